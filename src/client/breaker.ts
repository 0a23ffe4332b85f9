/**
 * Per-node circuit breaker of one client (WIRE.md §4.2): 5 consecutive failures open it for 30 s;
 * then half-open admits one trial, whose success closes it and whose failure reopens it. Callers
 * pass the time from their task's Effect `Clock`, so TestClock drives it; the operations are plain
 * calls because an attempt consults the breaker from XState and undici callbacks, outside a fiber.
 */
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

/** Admission and outcome recording for nodes, keyed by `node_id`; `now` is Effect Clock time in ms. */
export interface CircuitBreaker {
  /** Whether an attempt may go to `nodeId` now: `closed`, `trial` (half-open: the one trial, now taken) or `rejected`. */
  readonly admit: (nodeId: string, now: number) => Admission
  /** Records the outcome of an admitted attempt: `failed` for connect errors, timeouts, 5xx and `IICP-E030`. */
  readonly record: (nodeId: string, failed: boolean, now: number) => void
  /** Gives back a half-open trial whose attempt was cancelled before an outcome. */
  readonly release: (nodeId: string) => void
}

const CLOSED: BreakerEntry = { failures: 0, openUntil: undefined, trial: false }

/** A fresh breaker set, all closed. */
export const makeCircuitBreaker = (): CircuitBreaker => {
  // Closed nodes have no entry: the common success on a closed node touches nothing.
  const entries = new Map<string, BreakerEntry>()
  const set = (nodeId: string, entry: BreakerEntry) => (entry === CLOSED ? entries.delete(nodeId) : entries.set(nodeId, entry))
  return {
    admit: (nodeId, now) => {
      const entry = entries.get(nodeId)
      if (entry?.openUntil === undefined) return "closed"
      if (now < entry.openUntil || entry.trial) return "rejected"
      entries.set(nodeId, { ...entry, trial: true })
      return "trial"
    },
    record: (nodeId, failed, now) => {
      const entry = entries.get(nodeId) ?? CLOSED
      if (!failed) {
        if (entry !== CLOSED) set(nodeId, CLOSED)
        return
      }
      const failures = entry.failures + 1
      const open = entry.trial || failures >= BREAKER_FAILURE_THRESHOLD
      set(nodeId, { failures, openUntil: open ? now + BREAKER_OPEN_MS : entry.openUntil, trial: false })
    },
    release: (nodeId) => {
      const entry = entries.get(nodeId)
      if (entry) set(nodeId, { ...entry, trial: false })
    }
  }
}
