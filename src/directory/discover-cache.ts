/**
 * Reuses serialised discover answers: an answer stays valid while no node serving its intent has
 * changed, until the first of its nodes would fall silent (90 s), and for at most `maxAgeMs`, which
 * bounds how late an availability window boundary shows (clients are told max-age=5 s anyway).
 */
import type { DiscoverCache } from "./api.js"

const MAX_ENTRIES = 1_024

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
          if (entries.size >= MAX_ENTRIES) entries.clear()
          entries.set(key, { staleAtMs: Math.min(staleAtMs, nowMs + maxAgeMs), generation, body })
        }
      }
    },
    invalidate: (intent) => {
      generations.set(intent, (generations.get(intent) ?? 0) + 1)
    }
  }
}
