/** Shared test plumbing: a directory on 127.0.0.1:0 inside the test's Effect runtime, plain fetch, and fixtures. */
import { createServer } from "node:http"
import type { Server } from "node:http"
import { Effect, Layer } from "effect"
import type { Scope } from "effect"
import { makeDirectory } from "../../src/directory/service.js"
import type { DirectoryOptions } from "../../src/directory/config.js"
import type { RunningDirectory } from "../../src/directory/server.js"
import { createMemoryStore } from "../../src/directory/store/memory.js"
import { DirectoryStore } from "../../src/directory/store/types.js"
import type { DirectoryStoreApi, NodeRecord } from "../../src/directory/store/types.js"
import { silentLogger } from "../../src/runtime/log.js"

export const CHAT = "urn:iicp:intent:llm:chat:v1"

/** A directory over `store` (a fresh memory store by default), stopped when the test's scope closes. */
export const directory = (
  options: DirectoryOptions = {},
  store: DirectoryStoreApi = createMemoryStore()
): Effect.Effect<RunningDirectory, never, Scope.Scope> =>
  makeDirectory({ logger: silentLogger, ...options }).pipe(Effect.provide(Layer.succeed(DirectoryStore, store)), Effect.orDie)

/** What a test sees of a response. */
export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly json: any // eslint-disable-line @typescript-eslint/no-explicit-any
  readonly text: string
}

/** One HTTP call with plain fetch. A non-string `body` is sent as JSON. */
export const call = (
  url: string,
  init: { readonly method?: string; readonly body?: unknown; readonly headers?: Record<string, string> } = {}
): Effect.Effect<Reply> =>
  Effect.promise(async () => {
    const hasBody = init.body !== undefined
    const res = await fetch(url, {
      method: init.method ?? (hasBody ? "POST" : "GET"),
      headers: { ...(hasBody ? { "content-type": "application/json" } : {}), ...init.headers },
      ...(hasBody ? { body: typeof init.body === "string" ? init.body : JSON.stringify(init.body) } : {})
    })
    const text = await res.text()
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    return { status: res.status, headers: res.headers, json, text }
  })

/** A valid register body for `endpoint`. */
export const registration = (endpoint: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  endpoint,
  region: "eu-central",
  capabilities: [{ intent: CHAT, models: ["qwen2.5:0.5b"] }],
  limits: { max_concurrent: 4 },
  ...extra
})

/** Registers and returns the ACK (fails the test on a non-201). */
export const registerNode = (url: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  Effect.flatMap(call(`${url}/v1/register`, { body, headers }), (reply) =>
    reply.status === 201 ? Effect.succeed(reply.json as { node_id: string; node_token: string; node_hmac_key: string; observed_source_ip: string }) : Effect.dieMessage(`register answered ${reply.status}: ${reply.text}`)
  )

/** Discover for `query` (query string without `?`). */
export const discover = (url: string, query: string) => call(`${url}/v1/discover?${query}`)

/** A node health server on 127.0.0.1:0 answering `/iicp/health` with `status`; closed with the scope. */
export const healthServer = (status = 200): Effect.Effect<{ readonly url: string; readonly hits: () => number }, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(
      () =>
        new Promise<{ server: Server; url: string; hits: () => number }>((resolve) => {
          let hits = 0
          const server = createServer((req, res) => {
            if (req.url === "/iicp/health") hits++
            res.writeHead(req.url === "/iicp/health" ? status : 404, { "content-type": "application/json" })
            res.end(JSON.stringify({ status: "ok" }))
          })
          server.listen(0, "127.0.0.1", () => {
            const address = server.address()
            const port = typeof address === "object" && address ? address.port : 0
            resolve({ server, url: `http://127.0.0.1:${port}`, hits: () => hits })
          })
        })
    ),
    ({ server }) => Effect.promise(() => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections() }))
  ).pipe(Effect.map(({ url, hits }) => ({ url, hits })))

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export const closedPort = (): Effect.Effect<number> =>
  Effect.promise(
    () =>
      new Promise<number>((resolve) => {
        const server = createServer()
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          const port = typeof address === "object" && address ? address.port : 0
          server.close(() => resolve(port))
        })
      })
  )

/** Polls `check` in real time (for work the directory does on real sockets after a TestClock step). */
export const eventually = <A>(check: Effect.Effect<A>, accept: (a: A) => boolean, attempts = 100): Effect.Effect<A> =>
  Effect.flatMap(check, (value) =>
    accept(value) || attempts <= 1
      ? Effect.succeed(value)
      : Effect.zipRight(Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50))), eventually(check, accept, attempts - 1))
  )

/** A stored node record for seeding a store directly (no scrypt): verified, seen at `nowMs`. */
export const seededNode = (nodeId: string, nowMs: number, extra: Partial<NodeRecord> = {}): NodeRecord => ({
  node_id: nodeId,
  endpoint: `http://${nodeId}.example.net:8020`,
  region: "eu-central",
  capabilities: [{ intent: CHAT, models: ["qwen2.5:0.5b"] }],
  max_concurrent: 4,
  relay_capable: false,
  node_hmac_key: "00".repeat(16),
  token_hash: "scrypt$00$00",
  registered_at_ms: nowMs,
  last_seen_ms: nowMs,
  available: true,
  liveness: "verified",
  reputation: 0.5,
  reputation_window_start_ms: nowMs,
  reputation_window_gain: 0,
  metrics_batches: [],
  observed_source_ip: "198.51.100.7",
  challenge_failures: 0,
  ...extra
})
