/**
 * §5.11: a node whose backend stops answering reports `degraded`, and `ok` again once it answers,
 * checked at start and then every BACKEND_HEALTH_INTERVAL_MS on the node's clock (TestClock here).
 * The backend is a small OpenAI-compatible server on 127.0.0.1 that the test can take down.
 */
import { createServer } from "node:http"
import type { Server } from "node:http"
import type { AddressInfo } from "node:net"
import { it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { describe, expect } from "vitest"
import { BACKEND_HEALTH_INTERVAL_MS } from "../../src/constants.js"
import { echoBackend, nodeLayer, openAiBackend, serveNode } from "../../src/node/effect.js"
import { silentLogger } from "../../src/runtime/log.js"
import { call, CHAT, eventually } from "./helpers.js"

const modelsServer = (port = 0): Promise<Server> =>
  new Promise((resolve) => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" })
      res.end('{"object":"list","data":[{"id":"tiny"}]}')
    })
    server.listen(port, "127.0.0.1", () => resolve(server))
  })

const closeServer = (server: Server) => new Promise<void>((r) => server.close(() => r()))

const statusOf = (url: string) => Effect.promise(async () => (await call(`${url}/iicp/health`)).json.status as string)
const untilStatus = (url: string, expected: string) =>
  Effect.promise(() => eventually(async () => (await call(`${url}/iicp/health`)).json.status === expected))

describe("backend health", () => {
  it.scoped("ok → degraded when the backend goes away → ok when it is back", () =>
    Effect.gen(function* () {
      let backend = yield* Effect.promise(() => modelsServer())
      const port = (backend.address() as AddressInfo).port
      const handler = openAiBackend({ baseUrl: `http://127.0.0.1:${port}/v1`, model: "tiny" })
      const serving = yield* serveNode(handler, { port: 0, host: "127.0.0.1" })
      yield* untilStatus(serving.url, "ok")

      yield* Effect.promise(() => closeServer(backend))
      // Nothing is checked before the interval passes on the node's clock.
      expect(yield* statusOf(serving.url)).toBe("ok")
      yield* TestClock.adjust(BACKEND_HEALTH_INTERVAL_MS)
      yield* untilStatus(serving.url, "degraded")

      backend = yield* Effect.promise(() => modelsServer(port))
      yield* TestClock.adjust(BACKEND_HEALTH_INTERVAL_MS)
      yield* untilStatus(serving.url, "ok")
      yield* Effect.promise(() => closeServer(backend))
    }).pipe(Effect.provide(nodeLayer({ intent: CHAT, model: "tiny", logger: silentLogger })))
  )

  it.scoped("the echo backend has no check and is always ok", () =>
    Effect.gen(function* () {
      const serving = yield* serveNode(echoBackend(), { port: 0, host: "127.0.0.1" })
      yield* TestClock.adjust(BACKEND_HEALTH_INTERVAL_MS * 3)
      expect(yield* statusOf(serving.url)).toBe("ok")
    }).pipe(Effect.provide(nodeLayer({ intent: CHAT, model: "echo", logger: silentLogger })))
  )
})
