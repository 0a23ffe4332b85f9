/**
 * Reputation `outcome-v2` (§6.4): start 0.5; each success +0.01, failure −0.05, timeout −0.10; the
 * positive part of one beat is capped at +0.10 and at +0.20 per hour; the score stays in [0, 1].
 */
import {
  REPUTATION_FAILURE_STEP,
  REPUTATION_GAIN_WINDOW_MS,
  REPUTATION_MAX_GAIN_PER_BEAT,
  REPUTATION_MAX_GAIN_PER_HOUR,
  REPUTATION_SUCCESS_STEP,
  REPUTATION_TIMEOUT_STEP
} from "../constants.js"

/** Task outcomes reported in one metrics batch. */
export interface OutcomeCounts {
  readonly successes: number
  readonly failures: number
  readonly timeouts: number
}

/** A node's reputation and its hourly gain budget. */
export interface ReputationState {
  readonly reputation: number
  readonly reputation_window_start_ms: number
  readonly reputation_window_gain: number
}

/** The state after one accepted metrics batch at `nowMs`. */
export const applyOutcomes = (state: ReputationState, outcomes: OutcomeCounts, nowMs: number): ReputationState => {
  const windowExpired = nowMs - state.reputation_window_start_ms >= REPUTATION_GAIN_WINDOW_MS
  const windowStart = windowExpired ? nowMs : state.reputation_window_start_ms
  const gainSoFar = windowExpired ? 0 : state.reputation_window_gain
  const gain = Math.min(
    outcomes.successes * REPUTATION_SUCCESS_STEP,
    REPUTATION_MAX_GAIN_PER_BEAT,
    Math.max(0, REPUTATION_MAX_GAIN_PER_HOUR - gainSoFar)
  )
  const loss = outcomes.failures * REPUTATION_FAILURE_STEP + outcomes.timeouts * REPUTATION_TIMEOUT_STEP
  return {
    reputation: Math.min(1, Math.max(0, state.reputation + gain - loss)),
    reputation_window_start_ms: windowStart,
    reputation_window_gain: gainSoFar + gain
  }
}
