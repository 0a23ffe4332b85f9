/**
 * Idempotency and nonce replay (WIRE.md §5.6): keyed by `task_id`, shared by every lane. A handler
 * runs at most once per `task_id` within the window; an identical retry gets the stored answer
 * byte for byte, a different body under the same id gets 409.
 */
import { hash } from "node:crypto"
import { Clock, Context, Effect, Layer, Option } from "effect"
import { IDEMPOTENCY_MAX_ENTRIES, IDEMPOTENCY_WINDOW_MS } from "../constants.js"
import { canonicalJson } from "./canonical-json.js"

/** A terminal answer as sent: status and exact body bytes. */
export interface StoredReply {
  readonly status: number
  readonly body: Buffer
}

/** The outcome of claiming a `task_id`. */
export type Claim =
  /**
   * First sight: run the task, then `complete` with its terminal answer, or `abandon` when it was
   * refused before the handler (`completeAt` and `abandonNow` are the same for plain-code hot paths).
   */
  | {
      readonly _tag: "Fresh"
      readonly complete: (reply: StoredReply) => Effect.Effect<void>
      readonly completeAt: (reply: StoredReply, nowMs: number) => void
      readonly abandon: Effect.Effect<void>
      readonly abandonNow: () => void
    }
  | { readonly _tag: "Replay"; readonly reply: StoredReply }
  /** The same task is running: its answer, or `None` when that run recorded nothing (claim again). */
  | { readonly _tag: "Running"; readonly outcome: Effect.Effect<Option.Option<StoredReply>> }
  | { readonly _tag: "Conflict" }

/** The shared ledger. */
export interface IdempotencyLedger {
  /**
   * Claims `taskId` at `nowMs` (the caller's clock; the ledger is plain code because the task
   * runner's hot path is).
   */
  readonly claimAt: (taskId: string, fingerprint: string, nowMs: number) => Claim
  /** Whether `nonce` was seen within the window before `nowMs`. */
  readonly nonceSeenAt: (nonce: string, nowMs: number) => boolean
  readonly recordNonceAt: (nonce: string, nowMs: number) => void
}

/** The ledger as an Effect service. */
export class Idempotency extends Context.Tag("iicp-mesh/Idempotency")<Idempotency, IdempotencyLedger>() {
  static readonly layer: Layer.Layer<Idempotency> = Layer.sync(Idempotency, () => makeIdempotencyLedger())
}

/** SHA-256 (hex) of the canonical JSON of a task body without its top-level `auth` (§5.6). */
export const taskFingerprint = (body: Readonly<Record<string, unknown>>): string => {
  const { auth: _auth, ...rest } = body
  // The one-shot hash skips the Hash object a streaming digest needs.
  return hash("sha256", canonicalJson(rest), "hex")
}

/** Who waits for a running task's outcome; `None` tells them the run recorded nothing. */
type Waiter = (outcome: Option.Option<StoredReply>) => void

type Entry =
  | { readonly fingerprint: string; readonly state: "running"; readonly waiters: Array<Waiter> }
  | { readonly fingerprint: string; readonly state: "done"; readonly reply: StoredReply; readonly expiresAt: number }

/**
 * Keys in the order their window started, for O(1) amortised expiry and cap eviction (iterating a
 * Map from the front after many deletions costs time proportional to the deletions).
 */
const makeExpiryQueue = <V>(map: Map<string, V>, expiryOf: (value: V) => number | undefined, cap: number) => {
  let queue: Array<{ readonly key: string; readonly value: V }> = []
  let head = 0
  return {
    /** Records that `key` now holds `value` (already set in the map) and evicts what is due. */
    push: (key: string, value: V, now: number) => {
      queue.push({ key, value })
      while (head < queue.length) {
        const oldest = queue[head]!
        // A key re-set since it was queued is represented by a later item.
        if (map.get(oldest.key) !== oldest.value) {
          head += 1
          continue
        }
        const expiry = expiryOf(oldest.value)
        if (map.size <= cap && expiry !== undefined && expiry > now) break
        map.delete(oldest.key)
        head += 1
      }
      if (head > 1_024 && head * 2 > queue.length) {
        queue = queue.slice(head)
        head = 0
      }
    }
  }
}

/** A ledger with the §5.6 window and cap (both overridable for tests). Running tasks are never evicted. */
export const makeIdempotencyLedger = (windowMs = IDEMPOTENCY_WINDOW_MS, maxEntries = IDEMPOTENCY_MAX_ENTRIES): IdempotencyLedger => {
  const entries = new Map<string, Entry>()
  const nonces = new Map<string, number>()
  const finished = makeExpiryQueue(entries, (entry) => (entry.state === "done" ? entry.expiresAt : undefined), maxEntries)
  const seenNonces = makeExpiryQueue(nonces, (expiry) => expiry, maxEntries)

  const fresh = (taskId: string, fingerprint: string): Claim => {
    const entry: Entry = { fingerprint, state: "running", waiters: [] }
    entries.set(taskId, entry)
    const settle = (outcome: Option.Option<StoredReply>) => {
      for (const waiter of entry.waiters.splice(0)) waiter(outcome)
    }
    const completeAt = (reply: StoredReply, nowMs: number) => {
      const done: Entry = { fingerprint, state: "done", reply, expiresAt: nowMs + windowMs }
      entries.set(taskId, done)
      finished.push(taskId, done, nowMs)
      settle(Option.some(reply))
    }
    const abandonNow = () => {
      if (entries.get(taskId) === entry) entries.delete(taskId)
      settle(Option.none())
    }
    return {
      _tag: "Fresh",
      complete: (reply) => Effect.map(Clock.currentTimeMillis, (now) => completeAt(reply, now)),
      completeAt,
      abandon: Effect.sync(abandonNow),
      abandonNow
    }
  }

  const awaitOutcome = (waiters: Array<Waiter>): Effect.Effect<Option.Option<StoredReply>> =>
    Effect.async((resume) => {
      const waiter: Waiter = (outcome) => resume(Effect.succeed(outcome))
      waiters.push(waiter)
      return Effect.sync(() => {
        const at = waiters.indexOf(waiter)
        if (at !== -1) waiters.splice(at, 1)
      })
    })

  const claimAt = (taskId: string, fingerprint: string, nowMs: number): Claim => {
    const entry = entries.get(taskId)
    if (entry === undefined || (entry.state === "done" && entry.expiresAt <= nowMs)) return fresh(taskId, fingerprint)
    if (entry.fingerprint !== fingerprint) return { _tag: "Conflict" }
    if (entry.state === "done") return { _tag: "Replay", reply: entry.reply }
    return { _tag: "Running", outcome: awaitOutcome(entry.waiters) }
  }
  const nonceSeenAt = (nonce: string, nowMs: number): boolean => {
    const expiry = nonces.get(nonce)
    return expiry !== undefined && expiry > nowMs
  }
  const recordNonceAt = (nonce: string, nowMs: number): void => {
    const expiry = nowMs + windowMs
    nonces.set(nonce, expiry)
    seenNonces.push(nonce, expiry, nowMs)
  }

  return {
    claimAt,
    nonceSeenAt,
    recordNonceAt
  }
}
