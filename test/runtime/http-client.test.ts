/**
 * httpJson against real servers on 127.0.0.1: parsing, transport failures, and the per-request
 * timeout on the Effect clock (TestClock), which, like interruption, aborts the request on the wire.
 */
import { createServer } from "node:http"
import type { ServerResponse } from "node:http"
import { it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import type { Scope } from "effect"
import { Agent } from "undici"
import { describe, expect } from "vitest"
import { MAX_RESPONSE_BODY_BYTES } from "../../src/constants.js"
import { closeServer, listen } from "../../src/runtime/http-server.js"
import { createAgent, httpJson } from "../../src/runtime/http-client.js"
import type { FakeServer } from "../client/fixtures.js"
import { failureOf, freePort, startNode, success } from "../client/fixtures.js"

const serverOf = (start: () => Promise<FakeServer>): Effect.Effect<FakeServer, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.promise(start), (server) => Effect.promise(() => server.close()))

const agentScoped = Effect.acquireRelease(Effect.sync(createAgent), (agent) => Effect.promise(() => agent.close()))

describe("httpJson", () => {
  it.scoped("POSTs a JSON body with Content-Length and parses the JSON answer", () =>
    Effect.gen(function* () {
      const node = yield* serverOf(() => startNode([success("hello")]))
      const agent = yield* agentScoped
      const res = yield* httpJson(agent, { method: "POST", url: `${node.url}/v1/task`, body: { task_id: "t-1" }, timeoutMs: 5_000 })
      expect(res.status).toBe(200)
      expect((res.body as { status: string }).status).toBe("success")
      expect(node.requests[0]?.body).toEqual({ task_id: "t-1" })
      expect(node.requests[0]?.headers["content-length"]).toBe(String(JSON.stringify({ task_id: "t-1" }).length))
    })
  )

  it.scoped("a refused connection fails with reason connect", () =>
    Effect.gen(function* () {
      const agent = yield* agentScoped
      const port = yield* Effect.promise(freePort)
      const exit = yield* Effect.exit(httpJson(agent, { method: "GET", url: `http://127.0.0.1:${port}/`, timeoutMs: 5_000 }))
      expect(failureOf(exit).reason).toBe("connect")
    })
  )

  it.scoped("the timeout runs on the Effect clock: not a tick early, and it aborts the request", () =>
    Effect.gen(function* () {
      const node = yield* serverOf(() => startNode([{ kind: "hang" }]))
      const agent = yield* agentScoped
      const fiber = yield* Effect.fork(Effect.exit(httpJson(agent, { method: "POST", url: `${node.url}/v1/task`, body: {}, timeoutMs: 1_000 })))
      yield* Effect.promise(() => node.waitForRequests(1))
      yield* TestClock.adjust("999 millis")
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      const failure = failureOf(yield* Fiber.join(fiber))
      expect(failure.reason).toBe("timeout")
      expect(failure.message).toBe("no answer within 1000 ms")
      yield* Effect.promise(() => node.waitForAborts(1))
      expect(node.abortedByClient).toBe(1)
    })
  )

  it.scoped("interrupting the effect aborts the request on the wire", () =>
    Effect.gen(function* () {
      const node = yield* serverOf(() => startNode([{ kind: "hang" }]))
      const agent = yield* agentScoped
      const fiber = yield* Effect.fork(httpJson(agent, { method: "POST", url: `${node.url}/v1/task`, body: {}, timeoutMs: 60_000 }))
      yield* Effect.promise(() => node.waitForRequests(1))
      yield* Fiber.interrupt(fiber)
      yield* Effect.promise(() => node.waitForAborts(1))
      expect(node.abortedByClient).toBe(1)
    })
  )

  it.scoped("a request interrupted while queued in the pool is never sent", () =>
    Effect.gen(function* () {
      const node = yield* serverOf(() => startNode([{ kind: "hang" }, success("after")]))
      const agent = yield* Effect.acquireRelease(
        Effect.sync(() => new Agent({ connections: 1 })),
        (pool) => Effect.promise(() => pool.close())
      )
      const send = httpJson(agent, { method: "POST", url: `${node.url}/v1/task`, body: {}, timeoutMs: 60_000 })
      const hanging = yield* Effect.fork(send)
      yield* Effect.promise(() => node.waitForRequests(1))
      // The pool's one connection is busy: this request waits in a queue, not yet written.
      const queued = yield* Effect.fork(send)
      const waiting = () => {
        const stats = agent.stats[new URL(node.url).origin]
        return stats === undefined ? 0 : stats.pending + ("queued" in stats ? stats.queued : 0)
      }
      while (waiting() < 1) yield* Effect.yieldNow()
      yield* Fiber.interrupt(queued)
      yield* Fiber.interrupt(hanging)
      const res = yield* send
      expect(res.status).toBe(200)
      // FIFO pool: had the interrupted request been sent, it would have gone before this one.
      expect(node.requests).toHaveLength(2)
    })
  )

  it.scoped("a connection reset before the answer fails with reason reset", () =>
    Effect.gen(function* () {
      const node = yield* serverOf(() => startNode([{ kind: "reset" }]))
      const agent = yield* agentScoped
      const exit = yield* Effect.exit(httpJson(agent, { method: "POST", url: `${node.url}/v1/task`, body: {}, timeoutMs: 5_000 }))
      expect(failureOf(exit).reason).toBe("reset")
    })
  )
})

/** A server whose answers are written by `answer`; it counts the responses whose connection closed before they finished. */
const streamingServer = (answer: (res: ServerResponse) => void) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const state = { url: "", cutOff: 0, cutOffWaiters: [] as Array<() => void> }
      const server = createServer((req, res) => {
        req.resume()
        res.on("close", () => {
          if (res.writableFinished) return
          state.cutOff += 1
          for (const w of state.cutOffWaiters.splice(0)) w()
        })
        answer(res)
      })
      const port = await listen(server, 0, "127.0.0.1")
      state.url = `http://127.0.0.1:${port}`
      const cutOff = () => new Promise<void>((resolve) => (state.cutOff > 0 ? resolve() : state.cutOffWaiters.push(resolve)))
      return { state, server, cutOff }
    }),
    ({ server }) =>
      Effect.promise(() => {
        server.closeAllConnections()
        return closeServer(server)
      })
  )

/** Writes 16 KiB chunks as fast as the socket takes them, without end, until the client goes away. */
const endless = (res: ServerResponse) => {
  const chunk = Buffer.alloc(16_384, 0x61)
  res.writeHead(200, { "content-type": "application/json" })
  const pump = () => {
    while (!res.destroyed && res.write(chunk));
    if (!res.destroyed) res.once("drain", pump)
  }
  pump()
}

/** A JSON string body of exactly `bytes` bytes. */
const jsonOfSize = (bytes: number) => JSON.stringify("x".repeat(bytes - 2))

describe("httpJson response size cap", () => {

  it.scoped("an endless 200 is cut off past the cap: reset, 'response too large', the connection closed", () =>
    Effect.gen(function* () {
      const { state, cutOff } = yield* streamingServer(endless)
      const agent = yield* agentScoped
      const exit = yield* Effect.exit(httpJson(agent, { method: "GET", url: `${state.url}/`, timeoutMs: 60_000, maxResponseBytes: 100_000 }))
      const failure = failureOf(exit)
      expect(failure.reason).toBe("reset")
      expect(failure.message).toBe("response too large")
      yield* Effect.promise(cutOff)
      expect(state.cutOff).toBe(1)
    })
  )

  it.scoped("a body of exactly the cap is read; one byte more is refused", () =>
    Effect.gen(function* () {
      const cap = 50_000
      let size = cap
      const { state } = yield* streamingServer((res) => {
        // Chunked, no Content-Length: the cap is enforced by counting what arrives.
        res.writeHead(200, { "content-type": "application/json" })
        const body = Buffer.from(jsonOfSize(size))
        for (let at = 0; at < body.length; at += 4_096) res.write(body.subarray(at, at + 4_096))
        res.end()
      })
      const agent = yield* agentScoped
      const request = httpJson(agent, { method: "GET", url: `${state.url}/`, timeoutMs: 60_000, maxResponseBytes: cap })
      const ok = yield* request
      expect(ok.status).toBe(200)
      expect(ok.text).toHaveLength(cap)
      expect(typeof ok.body).toBe("string")
      size = cap + 1
      const failure = failureOf(yield* Effect.exit(request))
      expect(failure).toMatchObject({ reason: "reset", message: "response too large" })
    })
  )

  it.scoped("a declared Content-Length over the cap fails before the body is read; the default cap is 16 MiB", () =>
    Effect.gen(function* () {
      let declared = 0
      const { state, cutOff } = yield* streamingServer((res) => {
        // Declares a length and sends nothing: only the header can have refused it.
        res.writeHead(200, { "content-type": "application/json", "content-length": String(declared) })
        res.flushHeaders()
      })
      const agent = yield* agentScoped
      declared = 1_001
      const small = yield* Effect.exit(httpJson(agent, { method: "GET", url: `${state.url}/`, timeoutMs: 60_000, maxResponseBytes: 1_000 }))
      expect(failureOf(small)).toMatchObject({ reason: "reset", message: "response too large" })
      yield* Effect.promise(cutOff)
      declared = 16 * 1_048_576 + 1
      const byDefault = yield* Effect.exit(httpJson(agent, { method: "GET", url: `${state.url}/`, timeoutMs: 60_000 }))
      expect(failureOf(byDefault)).toMatchObject({ reason: "reset", message: "response too large" })
      expect(MAX_RESPONSE_BODY_BYTES).toBe(declared - 1)
    })
  )
})
