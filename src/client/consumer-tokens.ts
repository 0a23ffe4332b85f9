/**
 * Consumer tokens (WIRE.md §4.4): `POST {base}/v1/consumer-token` with this client's own node
 * credentials, cached per (target node, intent) until 30 s before `expires_at`, on Effect's clock.
 */
import { Clock, Effect, Option, Ref } from "effect"
import { CONSUMER_TOKEN_REFRESH_MARGIN_MS, DIRECTORY_CALL_TIMEOUT_MS } from "../constants.js"
import type { DirectoryClient } from "./directory.js"

/** Fetches and caches consumer tokens; a failure is `None` (the caller applies `optional`/`required`). */
export interface ConsumerTokens {
  readonly tokenFor: (targetNodeId: string, intent: string, traceparent: string) => Effect.Effect<Option.Option<string>>
}

interface CachedToken {
  readonly token: string
  readonly refreshAt: number
}

/** `expires_at` as ms since the epoch: an ISO string or Unix seconds. */
const expiryMs = (value: unknown): number | undefined => {
  if (typeof value === "number" && Number.isFinite(value)) return value * 1000
  if (typeof value === "string") {
    const ms = Date.parse(value)
    return Number.isNaN(ms) ? undefined : ms
  }
  return undefined
}

/** Consumer tokens for the client identified by `nodeId`/`nodeToken`. */
export const makeConsumerTokens = (
  directory: DirectoryClient,
  credentials: { readonly nodeId: string; readonly nodeToken: string }
): Effect.Effect<ConsumerTokens> =>
  Effect.map(Ref.make(new Map<string, CachedToken>()), (cache) => ({
    tokenFor: (targetNodeId, intent, traceparent) =>
      Effect.gen(function* () {
        const key = `${targetNodeId}\n${intent}`
        const now = yield* Clock.currentTimeMillis
        const cached = (yield* Ref.get(cache)).get(key)
        if (cached && now < cached.refreshAt) return Option.some(cached.token)
        const res = yield* directory.call(
          "consumer-token",
          {
            method: "POST",
            headers: { authorization: `Bearer ${credentials.nodeToken}`, "x-node-id": credentials.nodeId, traceparent },
            body: { target_node_id: targetNodeId, intent },
            timeoutMs: DIRECTORY_CALL_TIMEOUT_MS
          },
          false
        )
        const body = res.body as { token?: unknown; expires_at?: unknown } | undefined
        const expires = expiryMs(body?.expires_at)
        if (res.status < 200 || res.status > 299 || typeof body?.token !== "string" || expires === undefined) return Option.none()
        const token = body.token
        yield* Ref.update(cache, (map) => new Map(map).set(key, { token, refreshAt: expires - CONSUMER_TOKEN_REFRESH_MARGIN_MS }))
        return Option.some(token)
      }).pipe(Effect.orElseSucceed(() => Option.none<string>()))
  }))
