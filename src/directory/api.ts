/** The shapes handlers work with: a parsed request, a reply, and the shared directory context. */
import type { IncomingHttpHeaders } from "node:http"
import type { Effect } from "effect"
import type { SigningKeyPair } from "../protocol/consumer-token.js"
import type { Logger } from "../runtime/log.js"
import type { DirectoryConfig } from "./config.js"
import type { DirectoryRefusal } from "./errors.js"
import type { LivenessProber } from "./liveness.js"
import type { RateLimiter } from "./rate-limit.js"
import type { DirectoryStoreApi, NodeRecord } from "./store/types.js"
import type { TokenVerifier } from "./tokens.js"

/** A request as handlers see it. */
export interface ApiRequest {
  readonly method: string
  /** The routing path with every leading `/api` segment stripped. */
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: IncomingHttpHeaders
  /** The client IP (§6.1); never logged. */
  readonly clientIp: string
  /** The parsed JSON body (read on first use); `undefined` when empty. Fails 400 on bad JSON, 413 over the cap. */
  readonly body: Effect.Effect<unknown, DirectoryRefusal>
}

/** A reply: a JSON value, or bytes already serialised. */
export interface ApiReply {
  readonly status: number
  readonly body: unknown
  readonly raw?: Buffer
  readonly headers?: Readonly<Record<string, string>>
}

/** Everything handlers share. */
export interface DirectoryContext {
  readonly config: DirectoryConfig
  readonly store: DirectoryStoreApi
  readonly tokens: TokenVerifier
  readonly liveness: LivenessProber
  readonly limits: {
    readonly register: RateLimiter
    readonly probe: RateLimiter
    readonly consumerToken: RateLimiter
    /** Slow node-token checks per node_id and per client IP (see auth). */
    readonly tokenCheckByNode: RateLimiter
    readonly tokenCheckByIp: RateLimiter
  }
  readonly signingKey: SigningKeyPair
  readonly logger: Logger
  /** The public base URL (ACK `directory`, token `iss`). */
  readonly publicUrl: string
  /** Saves a node and, when discover would show the change, marks the intents it serves (before and after) as changed. */
  readonly saveNode: (record: NodeRecord, previous: NodeRecord | undefined) => Effect.Effect<void>
  readonly removeNode: (record: NodeRecord) => Effect.Effect<void>
  /** Runs a background effect (deferred liveness probes) on the directory's runtime; interrupted on stop. */
  readonly background: (effect: Effect.Effect<void>) => void
  /** The discover result cache. */
  readonly discoverCache: DiscoverCache
}

/** Serialised discover answers keyed by query, valid while their intent is unchanged and they are young. */
export interface DiscoverCache {
  /** The cached answer if still valid, and where to keep a fresh one (valid at most until `staleAtMs`). */
  readonly lookup: (
    intent: string,
    key: string,
    nowMs: number
  ) => { readonly hit?: Buffer; readonly keep: (body: Buffer, staleAtMs: number) => void }
  readonly invalidate: (intent: string) => void
}

/** A route handler. */
export type Handler = (request: ApiRequest, context: DirectoryContext) => Effect.Effect<ApiReply, DirectoryRefusal>
