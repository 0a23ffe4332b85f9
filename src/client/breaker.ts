/**
 * Per-node circuit breaker of one client (WIRE.md §4.2): 5 consecutive failures open it for 30 s;
 * then half-open admits one trial, whose success closes it and whose failure reopens it. Time is
 * Effect's `Clock`, so TestClock drives it.
 */
import { Clock, Effect, Ref } from "effect"
import { BREAKER_FAILURE_THRESHOLD, BREAKER_OPEN_MS } from "../constants.js"

interface BreakerEntry {
  readonly failures: number
  /** When set, the breaker is open until this time (ms); at or after it, half-open. */
  readonly openUntil: number | undefined
  /** A half-open trial is in flight. */
  readonly trial: boolean
}

/** The answer of {@link CircuitBreaker.admit}. */
export type Admission = "closed" | "trial" | "rejected"

/** Admission and outcome recording for nodes, keyed by `node_id`. */
export interface CircuitBreaker {
  /** Whether an attempt may go to `nodeId` now: `closed`, `trial` (half-open: the one trial, now taken) or `rejected`. */
  readonly admit: (nodeId: string) => Effect.Effect<Admission>
  /** Records the outcome of an admitted attempt: `failed` for connect errors, timeouts, 5xx and `IICP-E030`. */
  readonly record: (nodeId: string, failed: boolean) => Effect.Effect<void>
  /** Gives back a half-open trial whose attempt was cancelled before an outcome. */
  readonly release: (nodeId: string) => Effect.Effect<void>
}

const CLOSED: BreakerEntry = { failures: 0, openUntil: undefined, trial: false }

/** A fresh breaker set, all closed. */
export const makeCircuitBreaker: Effect.Effect<CircuitBreaker> = Effect.map(
  Ref.make(new Map<string, BreakerEntry>()),
  (entries) => {
    // An unchanged entry keeps the map as it is: the common success on a closed node copies nothing.
    const update = (nodeId: string, f: (entry: BreakerEntry, now: number) => BreakerEntry) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.update(entries, (map) => {
          const entry = map.get(nodeId) ?? CLOSED
          const next = f(entry, now)
          return next === entry ? map : new Map(map).set(nodeId, next)
        })
      )
    return {
      admit: (nodeId) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Ref.modify(entries, (map): [Admission, Map<string, BreakerEntry>] => {
            const entry = map.get(nodeId) ?? CLOSED
            if (entry.openUntil === undefined) return ["closed", map]
            if (now < entry.openUntil || entry.trial) return ["rejected", map]
            return ["trial", new Map(map).set(nodeId, { ...entry, trial: true })]
          })
        ),
      record: (nodeId, failed) =>
        update(nodeId, (entry, now) => {
          if (!failed) return CLOSED
          const failures = entry.failures + 1
          const open = entry.trial || failures >= BREAKER_FAILURE_THRESHOLD
          return { failures, openUntil: open ? now + BREAKER_OPEN_MS : entry.openUntil, trial: false }
        }),
      release: (nodeId) => update(nodeId, (entry) => ({ ...entry, trial: false }))
    }
  }
)
