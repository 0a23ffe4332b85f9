/**
 * Rolling-window rate limits (§6.9): at most `limit` events per key in any `windowMs`. The caller
 * passes the time (from Effect's Clock), so TestClock drives the window.
 */
import { DIRECTORY_RATE_MAX_KEYS } from "../constants.js"

/** Outcome of counting one event. */
export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number }

/** A rolling-window limiter keyed by caller (client IP, node id). */
export interface RateLimiter {
  /** Counts an event for `key` at `nowMs` unless the key is over its limit. */
  readonly take: (key: string, nowMs: number) => RateDecision
}

/** Options of {@link createRateLimiter}. */
export interface RateLimitOptions {
  readonly limit: number
  readonly windowMs: number
  /** Keys tracked at most (default {@link DIRECTORY_RATE_MAX_KEYS}); a new key past it drops the least recently counted. */
  readonly maxKeys?: number
}

/** Share of `maxKeys` freed at once when full, so making room costs O(1) amortised per new key. */
const EVICTION_SHARE = 1 / 8

/**
 * A limiter keeping each key's event times. Keys are kept in the order of their last counted event;
 * once `maxKeys` are tracked, a new key first drops those whose window emptied (they come first),
 * then the least recently counted, until an eighth of the room is free.
 */
export const createRateLimiter = (options: RateLimitOptions): RateLimiter => {
  const { limit, windowMs, maxKeys = DIRECTORY_RATE_MAX_KEYS } = options
  const events = new Map<string, Array<number>>()
  const keep = Math.floor(maxKeys * (1 - EVICTION_SHARE))
  const makeRoom = (since: number) => {
    for (const [key, times] of events) {
      if (events.size <= keep && times[times.length - 1]! > since) return
      events.delete(key)
    }
  }
  return {
    take: (key, nowMs) => {
      const since = nowMs - windowMs
      const times = (events.get(key) ?? []).filter((t) => t > since)
      if (times.length >= limit) {
        // Refused events are not counted, so the key keeps its place.
        events.set(key, times)
        // The oldest counted event leaves the window at times[0] + windowMs.
        return { allowed: false, retryAfterMs: times[0]! + windowMs - nowMs }
      }
      times.push(nowMs)
      if (!events.delete(key) && events.size >= maxKeys) makeRoom(since)
      events.set(key, times)
      return { allowed: true }
    }
  }
}
