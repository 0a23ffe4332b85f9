/**
 * Reuses serialised discover answers: an answer stays valid while no node serving its intent has
 * changed in a way discover shows, until the first of its nodes would fall silent (90 s), and for
 * at most `maxAgeMs`, which bounds how late an availability window boundary shows (clients are told
 * max-age=5 s anyway).
 */
import { DISCOVER_CACHE_MAX_ENTRIES, NODE_LIVENESS_WINDOW_MS } from "../constants.js"
import type { DiscoverCache } from "./api.js"
import type { NodeRecord } from "./store/types.js"

/** Fields neither ranking nor the projection reads: a save changing only these leaves every answer as it was. */
const UNSEEN_BY_DISCOVER: ReadonlySet<string> = new Set([
  "challenge",
  "challenge_failures",
  "metrics_batches",
  "observed_source_ip",
  "reputation_window_start_ms",
  "reputation_window_gain",
  "token_hash",
  "node_hmac_key",
  "registered_at_ms",
  // Read, but a later last_seen can only keep a node eligible longer: the answer's own expiry already
  // covers it, and its `last_seen` lags by at most `maxAgeMs`. A return from silence is checked apart.
  "last_seen_ms"
])

const seenFieldChanged = (from: NodeRecord, to: NodeRecord): boolean =>
  Object.entries(from).some(([key, value]) => !UNSEEN_BY_DISCOVER.has(key) && value !== Reflect.get(to, key))

/**
 * Whether saving `next` over `previous` can change a discover answer: a field discover reads
 * changed (load, active_jobs, available, reputation, …; records are replaced by spreading, so
 * unchanged members keep their identity), or the node comes back after falling silent, when it
 * was in no answer.
 */
export const changesDiscover = (previous: NodeRecord, next: NodeRecord): boolean =>
  previous.last_seen_ms < next.last_seen_ms - NODE_LIVENESS_WINDOW_MS || seenFieldChanged(previous, next) || seenFieldChanged(next, previous)

/** A cache; `maxAgeMs` 0 disables it. */
export const createDiscoverCache = (maxAgeMs: number): DiscoverCache => {
  const generations = new Map<string, number>()
  const entries = new Map<string, { readonly staleAtMs: number; readonly generation: number; readonly body: Buffer }>()
  return {
    lookup: (intent, key, nowMs) => {
      // The generation is read before the caller reads the store, so a change made meanwhile
      // makes the stored answer stale instead of hiding the change.
      const generation = generations.get(intent) ?? 0
      const entry = entries.get(key)
      const hit = entry && entry.generation === generation && nowMs < entry.staleAtMs ? entry.body : undefined
      return {
        ...(hit ? { hit } : {}),
        keep: (body, staleAtMs) => {
          if (maxAgeMs <= 0) return
          if (entries.size >= DISCOVER_CACHE_MAX_ENTRIES) entries.clear()
          entries.set(key, { staleAtMs: Math.min(staleAtMs, nowMs + maxAgeMs), generation, body })
        }
      }
    },
    invalidate: (intent) => {
      generations.set(intent, (generations.get(intent) ?? 0) + 1)
    }
  }
}
