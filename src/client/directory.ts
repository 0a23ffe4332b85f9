/**
 * The client's view of the directory (WIRE.md §4.1, §4.2): base URL with the `/api` fallback,
 * `GET /v1/discover` with liberal parsing, and a discover cache per (intent, filters) that lives
 * for the directory's `Cache-Control: max-age` on Effect's clock and shares one in-flight request,
 * so a burst of tasks costs one discover. Every call passes the directory's circuit breaker.
 */
import { Cause, Clock, Deferred, Effect, Exit, FiberId, Option, Ref, Schema } from "effect"
import type { Scope } from "effect"
import type { Dispatcher } from "undici"
import {
  BREAKER_FAILURE_THRESHOLD,
  BREAKER_OPEN_MS,
  DEFAULT_DISCOVER_LIMIT,
  DIRECTORY_CALL_TIMEOUT_MS,
  DISCOVER_CACHE_MAX_AGE_MS,
  MAX_DISCOVER_LIMIT
} from "../constants.js"
import { apiFallbackBase } from "../protocol/directory-url.js"
import { parseErrorBody } from "../protocol/envelope.js"
import { DirectoryUnavailable, InvalidRequest, redact } from "../protocol/errors.js"
import { WireSchema } from "../protocol/index.js"
import { isRecord } from "../protocol/json.js"
import { httpJson } from "../runtime/http-client.js"
import type { HttpFailure, HttpRequest, HttpResponse } from "../runtime/http-client.js"
import type { CircuitBreaker } from "./breaker.js"
import type { DiscoverOptions, DiscoverResult } from "./types.js"

/** A validated discover query: its query string (the cache key) and the most nodes kept. */
export interface DiscoverQuery {
  readonly query: string
  readonly limit: number
}

/** Directory calls a task needs. */
export interface DirectoryClient {
  /** Discovers nodes for a (validated) intent; answers from the cache while it is fresh. */
  readonly discover: (
    intent: string,
    options: DiscoverOptions,
    traceparent: string
  ) => Effect.Effect<DiscoverResult, DirectoryUnavailable | InvalidRequest>
  /** The query of a discover for a (validated) intent, or the `InvalidRequest` its filters deserve (§4.2). */
  readonly queryFor: (intent: string, options: DiscoverOptions) => DiscoverQuery | InvalidRequest
  /** The cached answer to `query` while it is fresh at `now` (Effect Clock ms), without I/O or a fiber. */
  readonly cached: (query: DiscoverQuery, now: number) => DiscoverResult | undefined
  /** Discovers for a validated query: the cache while fresh, else one request shared by every concurrent caller. */
  readonly lookup: (query: DiscoverQuery, traceparent: string) => Effect.Effect<DiscoverResult, DirectoryUnavailable>
  /**
   * Sends a request to `${base}/v1/<op>`, with the §4.1 `/api` fallback when `fallback` is set;
   * fails at once, without I/O, while the directory's circuit breaker is open.
   */
  readonly call: (
    op: string,
    req: Omit<HttpRequest, "url">,
    fallback: boolean
  ) => Effect.Effect<HttpResponse, DirectoryUnavailable>
}

/** How many distinct discover queries are cached at once. */
const DISCOVER_CACHE_CAPACITY = 256
/** The `max-age` directive of a `Cache-Control` value. */
const MAX_AGE_PATTERN = /(?:^|,)\s*max-age=(\d+)/i

interface CachedDiscover {
  readonly result: DiscoverResult
  readonly maxAgeMs: number
}

/** A discover cache entry: a fresh answer until `expiresAt`, or the one request in flight for its query. */
type CacheEntry =
  | { readonly result: DiscoverResult; readonly expiresAt: number }
  | { readonly inFlight: Deferred.Deferred<CachedDiscover, DirectoryUnavailable> }

const decodeNode = Schema.decodeUnknownOption(WireSchema.DiscoveredNode)

/** The node list of a discover body: `nodes` or `data.nodes` (§4.2). */
const nodeArray = (body: unknown): ReadonlyArray<unknown> | undefined => {
  if (!isRecord(body)) return undefined
  if (Array.isArray(body["nodes"])) return body["nodes"]
  const data = body["data"]
  return isRecord(data) && Array.isArray(data["nodes"]) ? data["nodes"] : undefined
}

/** How long a discover answer may be reused, from its `Cache-Control` (default the directory's 5 s). */
const maxAgeOf = (cacheControl: string | undefined): number => {
  if (cacheControl === undefined) return DISCOVER_CACHE_MAX_AGE_MS
  if (/no-store|no-cache/i.test(cacheControl)) return 0
  const match = MAX_AGE_PATTERN.exec(cacheControl)
  return match ? Number(match[1]) * 1000 : DISCOVER_CACHE_MAX_AGE_MS
}

/** The directory's entry in its breaker. */
const BREAKER_KEY = "directory"

const circuitOpen = (): DirectoryUnavailable =>
  new DirectoryUnavailable({
    reason: "circuit_open",
    message: `directory not called: its circuit breaker opened after ${BREAKER_FAILURE_THRESHOLD} consecutive failures (up to ${BREAKER_OPEN_MS / 1000} s)`
  })

/**
 * Whether a call's outcome counts against the breaker (§4.2): no answer (connect error, reset,
 * timeout) or a 5xx do, any other answer does not; `undefined` for an interrupted call, which has no outcome.
 */
const breakerFailure = (exit: Exit.Exit<HttpResponse, DirectoryUnavailable>): boolean | undefined =>
  Exit.match(exit, {
    onSuccess: (res) => res.status >= 500,
    onFailure: (cause) => (Cause.isInterruptedOnly(cause) ? undefined : true)
  })

const clientClosed = (): DirectoryUnavailable => new DirectoryUnavailable({ reason: "transport", message: "discover interrupted: the client is closing" })

const transportFailure = (failure: HttpFailure): DirectoryUnavailable =>
  new DirectoryUnavailable({
    reason: failure.reason === "timeout" ? "timeout" : "transport",
    message: `directory unreachable: ${failure.message}`
  })

/** Validates discover filters and builds the query string (§4.2). */
const discoverQuery = (intent: string, options: DiscoverOptions, defaultRegion: string | undefined): DiscoverQuery | InvalidRequest => {
  const limit = options.limit ?? DEFAULT_DISCOVER_LIMIT
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_DISCOVER_LIMIT) {
    return new InvalidRequest({ message: `limit must be an integer from 1 to ${MAX_DISCOVER_LIMIT}` })
  }
  if (options.minReputation !== undefined && !(options.minReputation >= 0 && options.minReputation <= 1)) {
    return new InvalidRequest({ message: "minReputation must be within [0, 1]" })
  }
  const params = new URLSearchParams({ intent, limit: String(limit) })
  const region = options.region ?? defaultRegion
  if (region) params.set("region", region)
  if (options.qos) params.set("qos", options.qos)
  if (options.minReputation !== undefined) params.set("min_reputation", String(options.minReputation))
  if (options.model) params.set("model", options.model)
  return { query: params.toString(), limit }
}

/** Options of {@link makeDirectoryClient}. */
export interface DirectoryClientOptions {
  readonly directoryUrl: string
  readonly region: string | undefined
  readonly agent: Dispatcher
  readonly secrets: ReadonlyArray<string>
  /** The directory's circuit breaker (§4.2: "the directory gets the same breaker"), its own so no node id can share its entry. */
  readonly breaker: CircuitBreaker
}

/**
 * A directory client over one connection pool; its base URL and cache live as long as it does, and
 * discover requests run in its scope: closing the client aborts them and fails their waiters with
 * `DirectoryUnavailable`.
 */
export const makeDirectoryClient = (options: DirectoryClientOptions): Effect.Effect<DirectoryClient, never, Scope.Scope> =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const base = yield* Ref.make(options.directoryUrl)

    const send: DirectoryClient["call"] = (op, req, fallback) =>
      Effect.gen(function* () {
        const current = yield* Ref.get(base)
        const sendTo = (at: string) =>
          httpJson(options.agent, { ...req, url: `${at}/v1/${op}` }).pipe(Effect.mapError(transportFailure))
        const res = yield* sendTo(current)
        // Discover and register never answer 404 on an existing route: a 404 means a base without `/api`.
        const withApi = fallback && res.status === 404 ? apiFallbackBase(current) : undefined
        if (withApi === undefined) return res
        const retried = yield* sendTo(withApi)
        if (retried.status !== 404) yield* Ref.set(base, withApi)
        return retried
      })

    // One admission per call (its `/api` retry included) and one recorded outcome, on the Effect clock;
    // an interrupted half-open trial is given back.
    const { breaker } = options
    const call: DirectoryClient["call"] = (op, req, fallback) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const admission = breaker.admit(BREAKER_KEY, now)
        if (admission === "rejected") return Effect.fail(circuitOpen())
        return Effect.onExit(send(op, req, fallback), (exit) => {
          const failed = breakerFailure(exit)
          if (failed === undefined) {
            return Effect.sync(() => {
              if (admission === "trial") breaker.release(BREAKER_KEY)
            })
          }
          return Effect.flatMap(Clock.currentTimeMillis, (at) => Effect.sync(() => breaker.record(BREAKER_KEY, failed, at)))
        })
      })

    const fetchDiscover = (key: DiscoverQuery, traceparent: string): Effect.Effect<CachedDiscover, DirectoryUnavailable> =>
      Effect.gen(function* () {
        const started = yield* Clock.currentTimeMillis
        const res = yield* call(
          `discover?${key.query}`,
          { method: "GET", headers: { traceparent }, timeoutMs: DIRECTORY_CALL_TIMEOUT_MS },
          true
        )
        if (res.status < 200 || res.status > 299) {
          const parsed = parseErrorBody(res.status, res.body, res.headers["retry-after"])
          return yield* new DirectoryUnavailable({
            reason: "status",
            status: res.status,
            code: parsed.code,
            message: redact(`directory answered ${res.status}: ${parsed.message}`, options.secrets)
          })
        }
        const entries = nodeArray(res.body)
        if (entries === undefined) {
          return yield* new DirectoryUnavailable({ reason: "malformed", message: "discover answer has no node list" })
        }
        // Entries without node_id or an http(s) endpoint are dropped one by one.
        const nodes = entries.flatMap((entry) => Option.toArray(decodeNode(entry))).slice(0, key.limit)
        const body = res.body as Record<string, unknown>
        const elapsed = (yield* Clock.currentTimeMillis) - started
        return {
          result: {
            nodes,
            count: typeof body["count"] === "number" ? body["count"] : nodes.length,
            queryMs: typeof body["query_ms"] === "number" ? body["query_ms"] : elapsed
          },
          maxAgeMs: maxAgeOf(res.headers["cache-control"])
        }
      })

    // Insertion order is age order: past capacity, the oldest query goes.
    const entries = new Map<string, CacheEntry>()
    const store = (query: string, entry: CacheEntry) => {
      entries.delete(query)
      if (entries.size >= DISCOVER_CACHE_CAPACITY) entries.delete(entries.keys().next().value!)
      entries.set(query, entry)
    }

    const cached: DirectoryClient["cached"] = (key, now) => {
      const entry = entries.get(key.query)
      return entry !== undefined && "result" in entry && now < entry.expiresAt ? entry.result : undefined
    }

    // One request per query at a time, in the client's scope; the first caller's traceparent rides
    // along. Failures and max-age=0 answers reach the callers that waited but are not kept.
    const startFetch = (key: DiscoverQuery, traceparent: string) =>
      Effect.suspend(() => {
        const inFlight = Deferred.unsafeMake<CachedDiscover, DirectoryUnavailable>(FiberId.none)
        const pending: CacheEntry = { inFlight }
        store(key.query, pending)
        const settle = (exit: Exit.Exit<CachedDiscover, DirectoryUnavailable>) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) => {
            if (entries.get(key.query) === pending) {
              if (Exit.isSuccess(exit) && exit.value.maxAgeMs > 0) store(key.query, { result: exit.value.result, expiresAt: now + exit.value.maxAgeMs })
              else entries.delete(key.query)
            }
            // Closing the client interrupts the request: its waiters get an answer, not an interruption.
            return Deferred.done(inFlight, Exit.isInterrupted(exit) ? Exit.fail(clientClosed()) : exit)
          })
        return Effect.as(Effect.forkIn(Effect.onExit(fetchDiscover(key, traceparent), settle), scope), inFlight)
      })

    const lookup: DirectoryClient["lookup"] = (key, traceparent) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const fresh = cached(key, now)
        if (fresh !== undefined) return Effect.succeed(fresh)
        const entry = entries.get(key.query)
        const inFlight = entry !== undefined && "inFlight" in entry ? Effect.succeed(entry.inFlight) : startFetch(key, traceparent)
        return Effect.flatMap(inFlight, (answer) => Effect.map(Deferred.await(answer), (done) => done.result))
      })

    const queryFor: DirectoryClient["queryFor"] = (intent, discoverOptions) => discoverQuery(intent, discoverOptions, options.region)

    return {
      call,
      queryFor,
      cached,
      lookup,
      discover: (intent, discoverOptions, traceparent) => {
        const key = queryFor(intent, discoverOptions)
        return key instanceof InvalidRequest ? Effect.fail(key) : lookup(key, traceparent)
      }
    }
  })
