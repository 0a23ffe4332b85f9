/**
 * The node's HTTP lane (WIRE.md §5.4): `POST /v1/task`, `GET /iicp/health`, `GET /metrics`, CORS
 * preflight; JSON everywhere except metrics. Task semantics live in the {@link TaskRunner}; this
 * module only reads bodies, routes and writes answers.
 */
import { createServer } from "node:http"
import type { IncomingMessage, Server, ServerResponse } from "node:http"
import { Context, Effect, Runtime } from "effect"
import type { Scope } from "effect"
import { DEFAULT_NODE_HTTP_PORT, NODE_CORS_MAX_AGE_S } from "../constants.js"
import { isRecord } from "../protocol/json.js"
import { closeServer, guarded, headerOf, listen, readJsonBody, routePath, sendError, sendJson, sendRaw } from "../runtime/http-server.js"
import type { ListenError } from "../runtime/http-server.js"
import { Admission, isAvailable } from "./admission.js"
import { NodeAuth } from "./auth.js"
import { NodeSettings } from "./config.js"
import { NodeLifecycle } from "./lifecycle.js"
import { NodeMetrics } from "./metrics.js"
import { TaskRunner } from "./task-runner.js"
import type { TaskSubmission } from "./task-runner.js"

/** Where to listen. */
export interface ListenOptions {
  /** Port; 0 picks an ephemeral one. Default 8020. */
  readonly port?: number
  /** Interface; default `0.0.0.0`. */
  readonly host?: string
}

const ROUTES: Readonly<Record<string, string>> = { "/v1/task": "POST", "/iicp/health": "GET", "/metrics": "GET" }

/** Browsers may call a node directly; every answer allows any origin (credentials travel as headers, not cookies). */
const CORS_HEADERS = { "access-control-allow-origin": "*" } as const
const PREFLIGHT_HEADERS = {
  ...CORS_HEADERS,
  "access-control-allow-methods": "GET, POST, OPTIONS",
  "access-control-allow-headers": "authorization, content-type, traceparent, tracestate, x-iicp-consumer-token, x-iicp-trace-id",
  "access-control-max-age": String(NODE_CORS_MAX_AGE_S)
} as const

const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4"

/** The health report (§5.11). */
export const healthReport = Effect.gen(function* () {
  const config = yield* NodeSettings
  const admission = yield* (yield* Admission).snapshot
  const lifecycle = yield* NodeLifecycle
  const draining = lifecycle.draining()
  const auth = yield* NodeAuth
  return {
    status: draining || !lifecycle.backendReachable() ? "degraded" : "ok",
    node_id: config.nodeId,
    region: config.region,
    load: admission.load,
    active_jobs: admission.active,
    max_concurrent: admission.maxConcurrent,
    effective_max_concurrent: admission.effective,
    available: isAvailable(admission, draining),
    ...(config.models[0] === undefined ? {} : { model: config.models[0] }),
    models: config.models,
    intent: config.intents[0],
    intents: config.intents,
    auth_mode: auth.mode,
    pinhole_state: { active: false }
  }
})

type ServerServices = TaskRunner | NodeSettings | Admission | NodeLifecycle | NodeMetrics | NodeAuth

/** The request listener of a node, running each request on `runtime`. */
export const nodeRequestListener = (runtime: Runtime.Runtime<ServerServices>, maxBodyBytes: number) => {
  const runCallback = Runtime.runCallback(runtime)
  const runPromise = Runtime.runPromise(runtime)
  const runner = Context.get(runtime.context, TaskRunner)

  const task = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const traceId = headerOf(req.headers, "x-iicp-trace-id")
    // TRACE-02: the trace id comes back on every answer, refusals before the runner included.
    const refusalHeaders = traceId === undefined ? CORS_HEADERS : { ...CORS_HEADERS, "x-iicp-trace-id": traceId }
    const read = await readJsonBody(req, maxBodyBytes)
    if (read._tag === "TooLarge") return sendError(res, 413, "payload_too_large", "body exceeds the size cap", {}, { ...refusalHeaders, connection: "close" })
    if (read._tag === "Malformed" || !isRecord(read.value)) {
      return sendError(res, 400, "validation_error", "body must be a JSON object", {}, refusalHeaders)
    }
    const submission: TaskSubmission = {
      body: read.value,
      authorization: headerOf(req.headers, "authorization"),
      consumerToken: headerOf(req.headers, "x-iicp-consumer-token"),
      traceparent: headerOf(req.headers, "traceparent"),
      tracestate: headerOf(req.headers, "tracestate"),
      traceId,
      clientIp: req.socket.remoteAddress ?? "unknown",
      origin: headerOf(req.headers, "origin")
    }
    const answer = runner.submit(submission)
    // Most tasks are answered without waiting on anything: no fiber is needed for them.
    if (!Effect.isEffect(answer)) return sendRaw(res, answer.status, answer.body, { ...CORS_HEADERS, ...answer.headers })
    // A client that goes away cancels its task: the handler's signal fires and the slot is freed.
    // (A function declaration, so a refusal completing synchronously inside runCallback can already name it.)
    function onClose() {
      if (!res.writableFinished) cancel()
    }
    const cancel = runCallback(answer, {
      onExit: (exit) => {
        res.off("close", onClose)
        if (exit._tag === "Success") sendRaw(res, exit.value.status, exit.value.body, { ...CORS_HEADERS, ...exit.value.headers })
        else if (!res.destroyed) sendError(res, 500, "internal_error", "internal error", {}, CORS_HEADERS)
      }
    })
    if (!res.writableFinished) res.on("close", onClose)
  }

  const routes: Readonly<Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void> | void>> = {
    "/v1/task": task,
    "/iicp/health": async (_req, res) => sendJson(res, 200, await runPromise(healthReport), CORS_HEADERS),
    "/metrics": async (_req, res) => {
      const text = await runPromise(Effect.flatMap(NodeMetrics, (metrics) => metrics.render))
      res.writeHead(200, { ...CORS_HEADERS, "content-type": METRICS_CONTENT_TYPE, "content-length": Buffer.byteLength(text) })
      res.end(text)
    }
  }

  return (req: IncomingMessage, res: ServerResponse): Promise<void> | void => {
    const path = routePath(req.url)
    const method = ROUTES[path]
    const route = routes[path]
    if (method === undefined || route === undefined) return sendError(res, 404, "not_found", "no such route", {}, CORS_HEADERS)
    if (req.method === "OPTIONS") {
      res.writeHead(204, PREFLIGHT_HEADERS)
      res.end()
      return
    }
    if (req.method !== method && !(method === "GET" && req.method === "HEAD")) {
      return sendError(res, 405, "method_not_allowed", "method not allowed", {}, { ...CORS_HEADERS, allow: `${method}, OPTIONS` })
    }
    return route(req, res)
  }
}

/** A listening HTTP lane. */
export interface BoundServer {
  readonly server: Server
  readonly port: number
  readonly host: string
}

/**
 * Listens with the node's request listener; the server is closed when the scope closes. A bind
 * failure is a typed {@link ListenError}, never an unhandled `error` event.
 */
export const listenNode = (options: ListenOptions): Effect.Effect<BoundServer, ListenError, ServerServices | Scope.Scope> =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<ServerServices>()
    const config = yield* NodeSettings
    const listener = nodeRequestListener(runtime, config.maxBodyBytes)
    const server = createServer(
      { keepAlive: true },
      guarded(listener, () => config.logger.error("request handler fault"))
    )
    // Socket errors (resets mid-request) must never crash the process.
    server.on("clientError", (_error, socket) => socket.destroy())
    const host = options.host ?? "0.0.0.0"
    const port = yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => listen(server, options.port ?? DEFAULT_NODE_HTTP_PORT, host), catch: (error) => error as ListenError }),
      () =>
        Effect.promise(() => {
          // The scope closes after draining: connections still open hold tasks past the drain bound, so end them
          // (which cancels their handlers) rather than wait for them.
          const closed = closeServer(server)
          server.closeAllConnections()
          return closed
        })
    )
    return { server, port, host }
  })
