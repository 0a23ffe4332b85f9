/**
 * Rolling-window rate limits (§6.9): at most `limit` events per key in any `windowMs`. The caller
 * passes the time (from Effect's Clock), so TestClock drives the window.
 */

/** Outcome of counting one event. */
export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number }

/** A rolling-window limiter keyed by caller (client IP, node id). */
export interface RateLimiter {
  /** Counts an event for `key` at `nowMs` unless the key is over its limit. */
  readonly take: (key: string, nowMs: number) => RateDecision
}

/** A limiter keeping each key's event times; keys whose window emptied are swept as the map grows. */
export const createRateLimiter = (options: { readonly limit: number; readonly windowMs: number }): RateLimiter => {
  const events = new Map<string, Array<number>>()
  let sweepAt = 1_024
  const sweep = (nowMs: number) => {
    for (const [key, times] of events) if (times[times.length - 1]! <= nowMs - options.windowMs) events.delete(key)
    sweepAt = Math.max(1_024, events.size * 2)
  }
  return {
    take: (key, nowMs) => {
      if (events.size >= sweepAt) sweep(nowMs)
      const since = nowMs - options.windowMs
      const times = (events.get(key) ?? []).filter((t) => t > since)
      if (times.length >= options.limit) {
        events.set(key, times)
        // The oldest counted event leaves the window at times[0] + windowMs.
        return { allowed: false, retryAfterMs: times[0]! + options.windowMs - nowMs }
      }
      times.push(nowMs)
      events.set(key, times)
      return { allowed: true }
    }
  }
}
