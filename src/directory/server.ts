/**
 * The directory's HTTP server. Request handlers are effects run on the Effect runtime the server
 * was started in, so directory time (last_seen, expiry, rate-limit windows, token expiry) follows
 * that runtime's Clock and TestClock drives it while real sockets serve HTTP.
 */
import { createServer } from "node:http"
import type { IncomingMessage, ServerResponse } from "node:http"
import { Effect, FiberSet, Runtime } from "effect"
import type { Scope } from "effect"
import {
  CONSUMER_TOKEN_RATE_LIMIT,
  CONSUMER_TOKEN_RATE_WINDOW_MS,
  DIRECTORY_KEEP_ALIVE_TIMEOUT_MS,
  PROBE_RATE_LIMIT,
  PROBE_RATE_WINDOW_MS,
  REGISTER_RATE_LIMIT,
  REGISTER_RATE_WINDOW_MS,
  TOKEN_CHECK_IP_LIMIT,
  TOKEN_CHECK_NODE_LIMIT,
  TOKEN_CHECK_WINDOW_MS
} from "../constants.js"
import { errorEnvelope } from "../protocol/envelope.js"
import { baseUrl, closeServer, guarded, listen, queryOf, readJsonBody, routePath, sendJson, sendRaw } from "../runtime/http-server.js"
import type { Logger } from "../runtime/log.js"
import type { ApiReply, ApiRequest, DirectoryContext } from "./api.js"
import { clientIpOf } from "./client-ip.js"
import type { DirectoryConfig } from "./config.js"
import { changesDiscover, createDiscoverCache } from "./discover-cache.js"
import { DirectoryRefusal, DirectoryStartError, wireFormOf } from "./errors.js"
import { createLivenessProber } from "./liveness.js"
import { createRateLimiter } from "./rate-limit.js"
import { apiPath, routeOf } from "./routes.js"
import { loadOrCreateSigningKey } from "./signing.js"
import type { DirectoryStoreApi, NodeRecord } from "./store/types.js"
import { createTokenVerifier } from "./tokens.js"
import type { TokenVerifier } from "./tokens.js"

/** A running directory. */
export interface RunningDirectory {
  /** Base URL clients use (`http://host:port`); `/v1/…` and `/api/v1/…` both work under it. */
  readonly url: string
  readonly port: number
  /** The public key consumer tokens are signed with (64 hex). */
  readonly publicKeyHex: string
}

/** Where to listen, and what the server needs besides its config. */
export interface ServerSettings {
  readonly port: number
  readonly host: string
  readonly publicUrl?: string
  readonly config: DirectoryConfig
  readonly store: DirectoryStoreApi
  readonly logger: Logger
  /** Checks node tokens (default: scrypt-backed with a digest cache). */
  readonly tokens?: TokenVerifier
}

const refusalReply = (refusal: DirectoryRefusal): ApiReply => {
  const form = wireFormOf(refusal)
  return { status: form.status, body: errorEnvelope(form.code, refusal.message, form.extras), headers: form.headers }
}

const BODY_METHODS = new Set(["POST", "DELETE", "PUT", "PATCH"])

/** A request view with a lazily read, memoised body. GET bodies that fail to parse are ignored. */
const apiRequestOf = (req: IncomingMessage, path: string, maxBodyBytes: number): ApiRequest => {
  let parsed: Promise<Awaited<ReturnType<typeof readJsonBody>>> | undefined
  const strict = BODY_METHODS.has(req.method ?? "")
  return {
    method: req.method ?? "GET",
    path,
    query: queryOf(req.url),
    headers: req.headers,
    clientIp: clientIpOf(req.socket.remoteAddress, req.headers),
    body: Effect.flatMap(
      Effect.promise(() => (parsed ??= readJsonBody(req, maxBodyBytes))),
      (result) => {
        if (result._tag === "Ok") return Effect.succeed(result.value)
        if (result._tag === "TooLarge") {
          return Effect.fail(new DirectoryRefusal({ reason: "too_large", message: `body larger than ${maxBodyBytes} bytes` }))
        }
        return strict ? Effect.fail(new DirectoryRefusal({ reason: "malformed_json", message: "body is not valid JSON" })) : Effect.void
      }
    )
  }
}

const handle = (req: IncomingMessage, context: DirectoryContext): Effect.Effect<ApiReply> => {
  const path = apiPath(routePath(req.url))
  const route = routeOf(path)
  if (!route) return Effect.succeed(refusalReply(new DirectoryRefusal({ reason: "not_found", message: "no such route" })))
  const handler = route[req.method as keyof typeof route]
  if (!handler) {
    const reply = refusalReply(new DirectoryRefusal({ reason: "method_not_allowed", message: `${req.method ?? ""} not allowed here` }))
    return Effect.succeed({ ...reply, headers: { allow: Object.keys(route).join(", ") } })
  }
  return handler(apiRequestOf(req, path, context.config.maxBodyBytes), context).pipe(Effect.catchAll((refusal) => Effect.succeed(refusalReply(refusal))))
}

const send = (res: ServerResponse, reply: ApiReply): void => {
  if (reply.raw) sendRaw(res, reply.status, reply.raw, reply.headers)
  else sendJson(res, reply.status, reply.body, reply.headers)
}

/**
 * Starts the directory on the current runtime; closing the scope stops listening, interrupts
 * background probes and flushes nothing itself (the store's own scope does).
 */
export const startServer = (settings: ServerSettings): Effect.Effect<RunningDirectory, DirectoryStartError, Scope.Scope> =>
  Effect.gen(function* () {
    const { config, store, logger } = settings
    const runtime = yield* Effect.runtime<never>()
    const background = yield* FiberSet.make<void>()
    const runBackground = yield* FiberSet.runtime(background)<never>()
    const liveness = createLivenessProber(config.endpointGuard)
    yield* Effect.addFinalizer(() => liveness.close)
    const discoverCache = createDiscoverCache(config.discoverCacheMs)
    const touchIntents = (record: NodeRecord | undefined) => {
      for (const capability of record?.capabilities ?? []) discoverCache.invalidate(capability.intent)
    }
    let publicUrl = settings.publicUrl ?? ""
    const context: DirectoryContext = {
      config,
      store,
      tokens: settings.tokens ?? createTokenVerifier(),
      liveness,
      limits: {
        register: createRateLimiter({ limit: REGISTER_RATE_LIMIT, windowMs: REGISTER_RATE_WINDOW_MS }),
        probe: createRateLimiter({ limit: PROBE_RATE_LIMIT, windowMs: PROBE_RATE_WINDOW_MS }),
        consumerToken: createRateLimiter({ limit: CONSUMER_TOKEN_RATE_LIMIT, windowMs: CONSUMER_TOKEN_RATE_WINDOW_MS }),
        tokenCheckByNode: createRateLimiter({ limit: TOKEN_CHECK_NODE_LIMIT, windowMs: TOKEN_CHECK_WINDOW_MS }),
        tokenCheckByIp: createRateLimiter({ limit: TOKEN_CHECK_IP_LIMIT, windowMs: TOKEN_CHECK_WINDOW_MS })
      },
      signingKey: yield* loadOrCreateSigningKey(store),
      logger,
      get publicUrl() {
        return publicUrl
      },
      saveNode: (record, previous) =>
        Effect.zipRight(
          store.putNode(record),
          Effect.sync(() => {
            if (previous !== undefined && !changesDiscover(previous, record)) return
            touchIntents(previous)
            touchIntents(record)
          })
        ),
      removeNode: (record) => Effect.zipRight(store.deleteNode(record.node_id), Effect.sync(() => touchIntents(record))),
      background: (effect) => {
        runBackground(effect)
      },
      discoverCache
    }

    const run = Runtime.runPromise(runtime)
    const server = createServer(
      { keepAliveTimeout: DIRECTORY_KEEP_ALIVE_TIMEOUT_MS },
      guarded(
        async (req, res) => send(res, await run(handle(req, context))),
        () => logger.error("request handler fault")
      )
    )
    server.on("clientError", (_error, socket) => socket.destroy())
    const port = yield* Effect.tryPromise({
      try: () => listen(server, settings.port, settings.host),
      catch: (error) => {
        const reason = (error as { reason?: string }).reason
        return new DirectoryStartError({
          reason: reason === "address_in_use" ? "address_in_use" : reason === "permission_denied" ? "permission_denied" : "listen_failed",
          message: error instanceof Error ? error.message : "cannot listen"
        })
      }
    })
    yield* Effect.addFinalizer(() => Effect.promise(() => closeServer(server)))
    const url = baseUrl(settings.host, port)
    publicUrl ||= url
    logger.info("directory listening", { port, mode: config.mode, liveness: config.liveness })
    return { url, port, publicKeyHex: context.signingKey.publicKeyHex }
  })
