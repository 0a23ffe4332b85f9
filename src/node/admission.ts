/**
 * The admission gate (WIRE.md §5.8): one per node, shared by every lane (HTTP, relay, native), so
 * `maxConcurrent` holds across all of them. Realtime and interactive tasks may wait a bounded time
 * for a slot, granted in priority then FIFO order; nothing queues without bound (in time or in number).
 */
import { Clock, Context, Data, Duration, Effect, Layer } from "effect"
import { ADMISSION_MAX_WAITERS, OUTSIDE_WINDOW_SHARE } from "../constants.js"
import type { AvailabilityWindow, NodeConfig } from "./config.js"
import { NodeSettings } from "./config.js"
import type { QosClass } from "./task.js"
import { QOS_PRIORITY } from "./task.js"

/** A task was refused a slot: the node is saturated for its class. */
export class CapacityRefused extends Data.TaggedError("CapacityRefused")<{
  readonly qos: QosClass
  readonly reason: "saturated" | "wait_expired"
}> {}

/** What admission looks like right now. */
export interface AdmissionSnapshot {
  readonly active: number
  readonly effective: number
  readonly maxConcurrent: number
  /** {@link loadOf} `active` and `maxConcurrent`: what both health and heartbeat report. */
  readonly load: number
}

/** The gate every lane runs its handler through. */
export interface AdmissionGate {
  /** Runs `use` holding one slot; the slot is released however `use` ends (success, failure, interruption). */
  readonly withSlot: <A, E, R>(qos: QosClass, use: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CapacityRefused, R>
  /**
   * Takes a slot at once when one is free and nobody waits, for plain-code hot paths; `false` means
   * the task would have to queue or be refused (use `withSlot`). A slot taken must be `release`d.
   */
  readonly tryAcquire: (nowMs: number) => boolean
  /** Gives back a slot taken with `tryAcquire`, handing it to the best waiter. */
  readonly release: (nowMs: number) => void
  readonly snapshot: Effect.Effect<AdmissionSnapshot>
  /** Completes once no slot is held. */
  readonly idle: Effect.Effect<void>
}

/** The admission gate as an Effect service. */
export class Admission extends Context.Tag("iicp-mesh/Admission")<Admission, AdmissionGate>() {
  /** A gate for the node's configuration. */
  static readonly layer: Layer.Layer<Admission, never, NodeSettings> = Layer.effect(
    Admission,
    Effect.map(NodeSettings, (config) => makeAdmissionGate(config))
  )
}

const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5))

/** The share of capacity offered at local time `date` (§5.8): first matching window, 0.5 outside all, 1 without windows. */
export const shareAt = (windows: ReadonlyArray<AvailabilityWindow>, date: Date): number => {
  if (windows.length === 0) return 1
  const now = date.getHours() * 60 + date.getMinutes()
  for (const w of windows) {
    const start = minutesOf(w.start)
    const end = minutesOf(w.end)
    const inside = start <= end ? now >= start && now <= end : now >= start || now <= end
    if (inside) return w.share
  }
  return OUTSIDE_WINDOW_SHARE
}

/** Effective capacity (§5.8): `max_concurrent ≤ 0` → 0, else `max(1, floor(max_concurrent × share))`. */
export const effectiveCapacity = (maxConcurrent: number, share: number): number =>
  maxConcurrent <= 0 ? 0 : Math.max(1, Math.floor(maxConcurrent * share))

/**
 * The node's `load` (§5.11): active ÷ max(1, max_concurrent), 3 decimals. The heartbeat (§5.3) reports
 * the same figure, so the directory and a health probe never disagree about one node.
 */
export const loadOf = (active: number, maxConcurrent: number): number => Math.round((active / Math.max(1, maxConcurrent)) * 1000) / 1000

/** Whether a node takes tasks now (§5.3 `available`, §5.11): not draining and a slot free. */
export const isAvailable = (snapshot: AdmissionSnapshot, draining: boolean): boolean => !draining && snapshot.active < snapshot.effective

interface Waiter {
  readonly priority: number
  readonly seq: number
  granted: boolean
  readonly grant: () => void
}

/** Builds a gate; exported for lanes that host their own runtime. */
export const makeAdmissionGate = (config: Pick<NodeConfig, "maxConcurrent" | "availability" | "queueWaitMs">): AdmissionGate => {
  let active = 0
  let seq = 0
  const waiters: Array<Waiter> = []
  const idleListeners: Array<() => void> = []

  const capacityAt = (nowMs: number) => effectiveCapacity(config.maxConcurrent, shareAt(config.availability, new Date(nowMs)))
  // Without availability windows capacity never changes, so the clock is only read when windows exist.
  const fixedCapacity = config.availability.length === 0 ? effectiveCapacity(config.maxConcurrent, 1) : undefined
  const capacityNow = fixedCapacity === undefined ? Effect.map(Clock.currentTimeMillis, capacityAt) : Effect.succeed(fixedCapacity)

  const tryAcquire = (nowMs: number): boolean => {
    if (waiters.length > 0 || active >= (fixedCapacity ?? capacityAt(nowMs))) return false
    active += 1
    return true
  }

  const releaseAt = (nowMs: number): void => {
    const capacity = fixedCapacity ?? capacityAt(nowMs)
    active -= 1
    // Hand freed slots to waiters, best priority first, then arrival order.
    while (active < capacity && waiters.length > 0) {
      const next = waiters.shift()!
      next.granted = true
      active += 1
      next.grant()
    }
    if (active === 0) for (const listener of idleListeners.splice(0)) listener()
  }

  const release = Effect.flatMap(Clock.currentTimeMillis, (nowMs) => Effect.sync(() => releaseAt(nowMs)))

  const enqueue = (qos: QosClass): Effect.Effect<void> =>
    Effect.async<void>((resume) => {
      const waiter: Waiter = { priority: QOS_PRIORITY[qos], seq: seq++, granted: false, grant: () => resume(Effect.void) }
      const at = waiters.findIndex((w) => w.priority > waiter.priority)
      waiters.splice(at === -1 ? waiters.length : at, 0, waiter)
      return Effect.suspend(() => {
        if (waiter.granted) return release
        waiters.splice(waiters.indexOf(waiter), 1)
        return Effect.void
      })
    })

  const acquire = (qos: QosClass): Effect.Effect<void, CapacityRefused> =>
    Effect.flatMap(Clock.currentTimeMillis, (nowMs) => {
      if (tryAcquire(nowMs)) return Effect.void
      const capacity = fixedCapacity ?? capacityAt(nowMs)
      const mayWait =
        config.queueWaitMs > 0 && capacity > 0 && QOS_PRIORITY[qos] <= QOS_PRIORITY.interactive && waiters.length < ADMISSION_MAX_WAITERS
      if (!mayWait) return Effect.fail(new CapacityRefused({ qos, reason: "saturated" }))
      return enqueue(qos).pipe(
        Effect.timeoutFail({
          duration: Duration.millis(config.queueWaitMs),
          onTimeout: () => new CapacityRefused({ qos, reason: "wait_expired" })
        })
      )
    })

  return {
    withSlot: (qos, use) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.zipRight(restore(acquire(qos)), Effect.ensuring(restore(use), release))
      ),
    tryAcquire,
    release: releaseAt,
    snapshot: Effect.map(capacityNow, (effective) => ({
      active,
      effective,
      maxConcurrent: config.maxConcurrent,
      load: loadOf(active, config.maxConcurrent)
    })),
    idle: Effect.async<void>((resume) => {
      if (active === 0) return resume(Effect.void)
      const listener = () => resume(Effect.void)
      idleListeners.push(listener)
      return Effect.sync(() => {
        const at = idleListeners.indexOf(listener)
        if (at !== -1) idleListeners.splice(at, 1)
      })
    })
  }
}
