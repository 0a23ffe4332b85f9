/** Serving and stopping (WIRE.md §5.1 step 5): drain with 503 + Retry-After, typed listen errors. */
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { resolveNodeConfig } from "../../src/node/config.js"
import { echoBackend, IicpNode, ListenError } from "../../src/node/index.js"
import { call, CHAT, chatTask, eventually, startTestNode } from "./helpers.js"

describe("stop drains", () => {
  it("new tasks get 503 unavailable + Retry-After: 5, in-flight tasks finish, then the listener closes", async () => {
    let release: (() => void) | undefined
    const echo = echoBackend()
    const { url, server } = await startTestNode(async (task, context) => {
      await new Promise<void>((resolve) => (release = resolve))
      return echo(task, context)
    })
    const inFlight = call(`${url}/v1/task`, { body: chatTask() })
    await eventually(() => release !== undefined)
    const stopped = server.stop()
    await eventually(async () => (await call(`${url}/iicp/health`)).json.status === "degraded")
    const refused = await call(`${url}/v1/task`, { body: chatTask() })
    expect(refused.status).toBe(503)
    expect(refused.headers["retry-after"]).toBe("5")
    expect(refused.json.error.code).toBe("unavailable")
    release!()
    expect((await inFlight).status).toBe(200)
    await stopped
    await expect(call(`${url}/iicp/health`)).rejects.toThrow()
    await server.stop()
  })

  it("draining is bounded by drainTimeoutMs when a handler never settles", async () => {
    const { url, server } = await startTestNode(() => new Promise(() => undefined), { drainTimeoutMs: 200 })
    const pending = call(`${url}/v1/task`, { body: chatTask({ constraints: { timeout_ms: 60_000 } }) }).catch(() => undefined)
    await eventually(async () => (await call(`${url}/iicp/health`)).json.active_jobs === 1)
    const began = Date.now()
    await server.stop()
    expect(Date.now() - began).toBeLessThan(10_000)
    await pending
  })
})

describe("serve failures are typed", () => {
  it("a port in use rejects with ListenError address_in_use, not an unhandled error event", async () => {
    const { server } = await startTestNode(echoBackend())
    try {
      const other = new IicpNode({ intent: CHAT })
      const failure = await other.serve(echoBackend(), { port: server.port, host: "127.0.0.1" }).catch((error: unknown) => error)
      expect(failure).toBeInstanceOf(ListenError)
      expect((failure as ListenError).reason).toBe("address_in_use")
    } finally {
      await server.stop()
    }
  })

  it("bad options throw invalid_config at construction", () => {
    expect(() => new IicpNode({ intent: "not-an-intent" })).toThrow(expect.objectContaining({ code: "invalid_config" }))
    expect(() => new IicpNode({ queueWaitMs: 5_000 })).toThrow(expect.objectContaining({ code: "invalid_config" }))
    expect(() => new IicpNode({ nodeId: "bad id with spaces" })).toThrow(expect.objectContaining({ code: "invalid_config" }))
    expect(() => new IicpNode({ directoryUrl: "ftp://directory.example" })).toThrow(expect.objectContaining({ code: "invalid_config" }))
    expect(() => new IicpNode({ directoryUrl: "not a url" })).toThrow(expect.objectContaining({ code: "invalid_config" }))
  })

  it("§4.1: the directory URL loses trailing slashes and a trailing /v1, keeps /api", () => {
    const directoryUrlOf = (raw: string) => Either.getOrThrow(resolveNodeConfig({ directoryUrl: raw })).directoryUrl
    expect(directoryUrlOf("https://iicp.network/api/v1/")).toBe("https://iicp.network/api")
    expect(directoryUrlOf("https://iicp.network//")).toBe("https://iicp.network")
    expect(directoryUrlOf("http://127.0.0.1:8080/v1")).toBe("http://127.0.0.1:8080")
  })

  it("serving twice is refused", async () => {
    const { node, server } = await startTestNode(echoBackend())
    try {
      await expect(node.serve(echoBackend(), { port: 0, host: "127.0.0.1" })).rejects.toMatchObject({ code: "invalid_config" })
    } finally {
      await server.stop()
    }
  })
})
