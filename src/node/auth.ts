/**
 * Who may submit tasks (WIRE.md §5.7). `token` modes compare the operator token in constant time;
 * `token+consumer` also accepts directory-signed consumer tokens verified offline against the
 * directory key. `open` mode accepts anything but rate-limits each client IP and Origin.
 */
import { createHash, timingSafeEqual } from "node:crypto"
import type { KeyObject } from "node:crypto"
import { Clock, Context, Effect, Layer } from "effect"
import type { Dispatcher } from "undici"
import { DIRECTORY_CALL_TIMEOUT_MS, DIRECTORY_KEY_CACHE_MS, DIRECTORY_KEY_REFETCH_MIN_MS, OPEN_MODE_RATE_MAX_KEYS } from "../constants.js"
import { InvalidConfig } from "../protocol/errors.js"
import { publicKeyFromHex, verifyConsumerToken } from "../protocol/consumer-token.js"
import { isRecord } from "../protocol/json.js"
import { httpJson } from "../runtime/http-client.js"
import type { AccessMode, NodeConfig } from "./config.js"
import { NodeSettings } from "./config.js"
import { DirectoryAgent } from "./directory-agent.js"
import { DirectoryBase } from "./directory-base.js"
import type { DirectoryBaseRef } from "./directory-base.js"

/** The credentials a request carries, wherever they were found. */
export interface PresentedCredentials {
  readonly authorization: string | undefined
  readonly consumerToken: string | undefined
  /** The body's `auth` member. */
  readonly bodyAuth: unknown
  readonly intent: unknown
  readonly clientIp: string
  readonly origin: string | undefined
}

/** The decision on one request. Says nothing about which check failed. */
export type AuthVerdict =
  | { readonly _tag: "Allowed" }
  | { readonly _tag: "Unauthorized" }
  | { readonly _tag: "RateLimited"; readonly retryAfterMs: number }

/** The node's gatekeeper. */
export interface NodeAuthenticator {
  readonly mode: AccessMode
  readonly authorize: (credentials: PresentedCredentials) => Effect.Effect<AuthVerdict>
  /**
   * The verdict at `nowMs` when it needs no I/O, for plain-code hot paths; `undefined` when only
   * `authorize` can decide (a consumer token whose directory key may have to be fetched).
   */
  readonly verdictAt: (credentials: PresentedCredentials, nowMs: number) => AuthVerdict | undefined
}

/** The gatekeeper as an Effect service. */
export class NodeAuth extends Context.Tag("iicp-mesh/NodeAuth")<NodeAuth, NodeAuthenticator>() {
  /** A gatekeeper for the configured access mode and operator token. */
  static readonly layer: Layer.Layer<NodeAuth, InvalidConfig, NodeSettings | DirectoryAgent | DirectoryBase> = Layer.effect(
    NodeAuth,
    Effect.gen(function* () {
      const config = yield* NodeSettings
      const access = yield* resolveAccess(config.access, config.operatorToken)
      return makeNodeAuthenticator({ ...config, access }, yield* DirectoryAgent, yield* DirectoryBase)
    })
  )
}

/**
 * The access mode in force (§5.7 Decision): as configured, else `token` when an operator token is
 * set, else `open`. `token` without a token is a configuration error, never a silently open node.
 */
export const resolveAccess = (access: AccessMode | undefined, operatorToken: string | undefined): Effect.Effect<AccessMode, InvalidConfig> => {
  const mode = access ?? (operatorToken ? "token" : "open")
  return mode === "token" && !operatorToken
    ? Effect.fail(new InvalidConfig({ field: "operatorToken", message: "access mode token needs a non-empty operator token" }))
    : Effect.succeed(mode)
}

const digest = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest()

/**
 * A constant-time test against the secret `expected` via SHA-256 digests (§5.7), its digest computed
 * once; an empty string never matches.
 */
export const secretMatcher = (expected: string): ((presented: string) => boolean) => {
  const expectedDigest = expected.length > 0 ? digest(expected) : undefined
  return (presented) => expectedDigest !== undefined && presented.length > 0 && timingSafeEqual(digest(presented), expectedDigest)
}

/** Constant-time equality of two secrets via their SHA-256 digests; an empty string never matches. */
export const secretsEqual = (presented: string, expected: string): boolean => secretMatcher(expected)(presented)

const ALLOWED: AuthVerdict = { _tag: "Allowed" }
const UNAUTHORIZED: AuthVerdict = { _tag: "Unauthorized" }

/** Operator-token candidates in §5.7 order: Bearer, `auth.node_token`, `auth.token`. */
const operatorTokenCandidates = (credentials: PresentedCredentials): Array<string> => {
  const out: Array<string> = []
  const bearer = /^Bearer\s+(.+)$/i.exec(credentials.authorization ?? "")
  if (bearer) out.push(bearer[1]!.trim())
  const auth = credentials.bodyAuth
  if (isRecord(auth)) {
    const { node_token: nodeToken, token } = auth
    if (typeof nodeToken === "string") out.push(nodeToken)
    if (typeof token === "string") out.push(token)
  }
  return out
}

/**
 * A fixed-window counter per key, with a bounded key table. Not the directory's rolling-window
 * limiter: this one sits on the node's hot path in open mode with a limit of hundreds per window,
 * where keeping and filtering every event time per request would cost more than the bound is worth.
 */
const makeRateLimiter = (limit: number, windowMs: number) => {
  const windows = new Map<string, { start: number; count: number }>()
  return (key: string, now: number): number | undefined => {
    let window = windows.get(key)
    if (!window || now - window.start >= windowMs) {
      windows.delete(key)
      if (windows.size >= OPEN_MODE_RATE_MAX_KEYS) windows.delete(windows.keys().next().value!)
      window = { start: now, count: 0 }
      windows.set(key, window)
    }
    window.count += 1
    return window.count > limit ? window.start + windowMs - now : undefined
  }
}

/**
 * The directory's Ed25519 key, cached for an hour; fetched at most once per 60 s after a failure
 * (fetch error or a signature that did not verify).
 */
const makeDirectoryKeyCache = (fetchKey: Effect.Effect<string | undefined>) => {
  let key: KeyObject | undefined
  let fetchedAt = Number.NEGATIVE_INFINITY
  let attemptedAt = Number.NEGATIVE_INFINITY
  const fetch = (now: number) =>
    Effect.map(fetchKey, (hex) => {
      attemptedAt = now
      const parsed = hex === undefined ? undefined : publicKeyFromHex(hex)
      if (parsed) {
        key = parsed
        fetchedAt = now
      }
      return key
    })
  return {
    /** The cached key, refreshed when older than an hour (or absent) and a fetch is allowed. */
    current: Effect.flatMap(Clock.currentTimeMillis, (now) =>
      (key === undefined || now - fetchedAt >= DIRECTORY_KEY_CACHE_MS) && now - attemptedAt >= DIRECTORY_KEY_REFETCH_MIN_MS
        ? fetch(now)
        : Effect.succeed(key)
    ),
    /** After a signature failure: a fresh key if one may be fetched now, else `undefined`. */
    refreshed: Effect.flatMap(Clock.currentTimeMillis, (now) =>
      now - attemptedAt >= DIRECTORY_KEY_REFETCH_MIN_MS ? fetch(now) : Effect.succeed(undefined)
    )
  }
}

/**
 * Builds the gatekeeper for a node. The directory key is fetched from `directory`'s current base,
 * so it follows a base moved by registration (§4.1).
 */
export const makeNodeAuthenticator = (
  config: Omit<NodeConfig, "access"> & { readonly access: AccessMode },
  agent: Dispatcher,
  directory: DirectoryBaseRef
): NodeAuthenticator => {
  const limiter = makeRateLimiter(config.openRateLimit.limit, config.openRateLimit.windowMs)
  const fetchKey = Effect.suspend(() => {
    const base = directory.current()
    if (base === undefined) return Effect.succeed(undefined)
    return httpJson(agent, { method: "GET", url: `${base}/v1/directory-key`, timeoutMs: DIRECTORY_CALL_TIMEOUT_MS }).pipe(
      Effect.map((res) => {
        const hex = isRecord(res.body) ? res.body["public_key"] : undefined
        return res.status === 200 && typeof hex === "string" ? hex : undefined
      }),
      Effect.orElseSucceed(() => undefined)
    )
  })
  const keyCache = makeDirectoryKeyCache(fetchKey)

  const consumerTokenValid = (token: string, intent: string): Effect.Effect<boolean> => {
    const verifyWith = (key: KeyObject | undefined, now: number) =>
      key === undefined ? undefined : verifyConsumerToken(token, key, { nodeId: config.nodeId, intent, nowSeconds: Math.floor(now / 1000) })
    return Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const first = verifyWith(yield* keyCache.current, now)
      if (first?.ok) return true
      if (first !== undefined && first.reason !== "bad_signature") return false
      // The directory may have rotated its key: one refetch, rate-limited.
      return verifyWith(yield* keyCache.refreshed, now)?.ok === true
    })
  }

  // Each request hashes only what it presents: the operator token's digest is computed once.
  const isOperatorToken = secretMatcher(config.operatorToken ?? "")
  const operatorTokenValid = (credentials: PresentedCredentials): boolean => operatorTokenCandidates(credentials).some(isOperatorToken)

  const verdictAt = (credentials: PresentedCredentials, nowMs: number): AuthVerdict | undefined => {
    switch (config.access) {
      case "open": {
        const wait = Math.max(
          limiter(`ip:${credentials.clientIp}`, nowMs) ?? 0,
          credentials.origin === undefined ? 0 : (limiter(`origin:${credentials.origin}`, nowMs) ?? 0)
        )
        return wait > 0 ? { _tag: "RateLimited", retryAfterMs: wait } : ALLOWED
      }
      case "token":
        return operatorTokenValid(credentials) ? ALLOWED : UNAUTHORIZED
      case "token+consumer": {
        // Either credential admits: the operator token is checked first because it needs no key.
        if (operatorTokenValid(credentials)) return ALLOWED
        const token = credentials.consumerToken
        return token !== undefined && token !== "" && typeof credentials.intent === "string" ? undefined : UNAUTHORIZED
      }
    }
  }

  return {
    mode: config.access,
    verdictAt,
    authorize: (credentials) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const verdict = verdictAt(credentials, now)
        // Only a consumer token with an intent is left undecided.
        const { consumerToken, intent } = credentials
        if (verdict !== undefined || consumerToken === undefined || typeof intent !== "string") return Effect.succeed(verdict ?? UNAUTHORIZED)
        return Effect.map(consumerTokenValid(consumerToken, intent), (ok) => (ok ? ALLOWED : UNAUTHORIZED))
      })
  }
}
