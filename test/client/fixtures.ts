/**
 * Test counterparts for the client: a tiny directory and scripted nodes, real HTTP servers on
 * 127.0.0.1 port 0. Each node answers from a script of behaviours and records what it saw.
 */
import { createServer } from "node:http"
import type { IncomingMessage, Server, ServerResponse } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { Cause, Exit, Option } from "effect"
import { codeForStatus } from "../../src/protocol/envelope.js"
import { baseUrl, closeServer, listen, readJsonBody, routePath, sendJson } from "../../src/runtime/http-server.js"

/** One scripted answer of a node. */
export type Behaviour =
  | { readonly kind: "json"; readonly status: number; readonly body: unknown; readonly headers?: Readonly<Record<string, string>> }
  | { readonly kind: "text"; readonly status: number; readonly text: string }
  /** Never answer (the client's deadline or abort must end it). */
  | { readonly kind: "hang" }
  /** Destroy the socket once the request body has been read. */
  | { readonly kind: "reset" }

/** A request a fake server received. */
export interface SeenRequest {
  readonly method: string
  readonly path: string
  readonly url: string
  readonly headers: IncomingMessage["headers"]
  readonly body: unknown
}

interface Recorder {
  readonly requests: Array<SeenRequest>
  /** TCP connections accepted, and how many of them are closed. */
  connections: number
  closedConnections: number
  /** Requests whose connection closed before an answer was sent (client abort or timeout). */
  abortedByClient: number
  /** Resolves when `n` requests have arrived. */
  readonly waitForRequests: (n: number) => Promise<void>
  /** Resolves when `n` requests were abandoned by the client. */
  readonly waitForAborts: (n: number) => Promise<void>
  /** Resolves when every accepted connection is closed. */
  readonly waitForAllClosed: () => Promise<void>
}

const recorder = (): Recorder & { readonly notify: () => void } => {
  const waiters: Array<() => void> = []
  const state = {
    requests: [] as Array<SeenRequest>,
    connections: 0,
    closedConnections: 0,
    abortedByClient: 0,
    notify: () => {
      for (const w of waiters.splice(0)) w()
    },
    waitForRequests: (n: number): Promise<void> => until(() => state.requests.length >= n),
    waitForAborts: (n: number): Promise<void> => until(() => state.abortedByClient >= n),
    waitForAllClosed: (): Promise<void> => until(() => state.closedConnections >= state.connections)
  }
  const until = (ok: () => boolean): Promise<void> =>
    new Promise((resolve) => {
      const check = () => (ok() ? resolve() : waiters.push(check))
      check()
    })
  return state
}

/** A running fake server. */
export interface FakeServer extends Recorder {
  readonly url: string
  readonly close: () => Promise<void>
}

const start = async (handler: (req: IncomingMessage, res: ServerResponse, rec: Recorder & { notify: () => void }) => Promise<void>): Promise<FakeServer> => {
  const rec = recorder()
  const sockets = new Set<Socket>()
  const server: Server = createServer((req, res) => {
    void handler(req, res, rec)
  })
  server.on("connection", (socket) => {
    sockets.add(socket)
    rec.connections += 1
    socket.on("close", () => {
      sockets.delete(socket)
      rec.closedConnections += 1
      rec.notify()
    })
  })
  const port = await listen(server, 0, "127.0.0.1")
  return Object.assign(rec, {
    url: baseUrl("127.0.0.1", port),
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await closeServer(server)
    }
  })
}

const record = async (req: IncomingMessage, rec: Recorder & { notify: () => void }): Promise<void> => {
  const parsed = await readJsonBody(req, 1_048_576)
  rec.requests.push({
    method: req.method ?? "",
    path: routePath(req.url),
    url: req.url ?? "",
    headers: req.headers,
    body: parsed._tag === "Ok" ? parsed.value : undefined
  })
  rec.notify()
}

/** Answers `POST /v1/task` from `script` in order; the last behaviour repeats. */
export const startNode = (script: ReadonlyArray<Behaviour>): Promise<FakeServer> => {
  let next = 0
  return start(async (req, res, rec) => {
    await record(req, rec)
    const behaviour = script[Math.min(next++, script.length - 1)] ?? { kind: "hang" }
    res.on("close", () => {
      if (!res.writableFinished) {
        rec.abortedByClient += 1
        rec.notify()
      }
    })
    switch (behaviour.kind) {
      case "json":
        sendJson(res, behaviour.status, behaviour.body, behaviour.headers)
        return
      case "text":
        res.writeHead(behaviour.status, { "content-type": "text/html", "content-length": Buffer.byteLength(behaviour.text) })
        res.end(behaviour.text)
        return
      case "reset":
        req.socket.destroy()
        return
      case "hang":
        return
    }
  })
}

/** A node entry of a discover answer. */
export interface DirectoryEntry {
  readonly node_id: string
  readonly endpoint: string
  readonly [extra: string]: unknown
}

/**
 * A directory answering `GET /v1/discover` (or only `/api/v1/discover` when `apiOnly`) with `nodes`,
 * and 404 `not_found` elsewhere. `nodes` may be changed between calls.
 */
export const startDirectory = (options: {
  nodes: Array<DirectoryEntry>
  apiOnly?: boolean
  shape?: "nodes" | "data"
  /** Serve `POST /v1/consumer-token` (201, a token named after the target, valid 5 minutes). */
  consumerTokens?: boolean
  /** Never answer a discover: the request stays open until the client gives up on it. */
  hangDiscover?: boolean
  /** Answer discover with this error status (and its §3.1 code) instead; read per request, so a test may change it. */
  discoverStatus?: number
}): Promise<FakeServer> =>
  start(async (req, res, rec) => {
    await record(req, rec)
    const path = routePath(req.url)
    if (options.consumerTokens && path === "/v1/consumer-token") {
      const body = rec.requests.at(-1)?.body as { target_node_id?: string } | undefined
      sendJson(res, 201, { token: `ct-${body?.target_node_id}`, expires_at: new Date(Date.now() + 300_000).toISOString() })
      return
    }
    const served = options.apiOnly ? path === "/api/v1/discover" : path === "/v1/discover" || path === "/api/v1/discover"
    if (!served) {
      sendJson(res, 404, { error: { code: "not_found", message: "no such route" } })
      return
    }
    if (options.hangDiscover) return
    if (options.discoverStatus !== undefined) {
      sendJson(res, options.discoverStatus, { error: { code: codeForStatus(options.discoverStatus), message: "discover failed" } })
      return
    }
    const nodes = options.nodes.map((n) => ({ score: 0.9, available: true, region: "local", ...n }))
    const body = options.shape === "data" ? { data: { nodes } } : { nodes, count: nodes.length, query_ms: 1 }
    sendJson(res, 200, body, { "cache-control": "public, max-age=5, s-maxage=10, stale-while-revalidate=5" })
  })

/** A chat completion a node returns in `result`. */
export const completion = (content: string) => ({
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1_760_000_000,
  model: "echo-model",
  choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
  usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }
})

/** A 200 task answer, echoing the request's task_id when the node is given it. */
export const success = (content = "hi there"): Behaviour => ({
  kind: "json",
  status: 200,
  body: { task_id: "00000000-0000-4000-8000-000000000000", status: "success", result: completion(content), metrics: { latency_ms: 1, tokens_used: 5 } }
})

/** A §3.1 nested error answer. */
export const nestedError = (status: number, code: string, message = "failed", extras: Record<string, unknown> = {}, headers: Record<string, string> = {}): Behaviour => ({
  kind: "json",
  status,
  body: { error: { code, message, ...extras } },
  headers
})

/** Closes every server given. */
export const closeAll = (servers: ReadonlyArray<FakeServer>): Promise<void> => Promise.all(servers.map((s) => s.close())).then(() => undefined)

/** The typed failure of an exit that must have failed. */
export const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
  if (Option.isNone(failure)) throw new Error("expected a failure")
  return failure.value
}

/** A port nothing listens on: bound, then released. */
export const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
