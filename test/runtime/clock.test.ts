/**
 * scheduleOn: timers on the runtime's Effect Clock. Under TestClock only `TestClock.adjust` fires
 * them; on the live Clock they are host timers with the live Clock's range rule.
 */
import { it } from "@effect/vitest"
import { Deferred, Effect, TestClock } from "effect"
import { describe, expect } from "vitest"
import { scheduleOn } from "../../src/runtime/clock.js"

describe("scheduleOn under TestClock", () => {
  it.effect("fires exactly when the clock reaches the delay, never on wall time", () =>
    Effect.gen(function* () {
      const schedule = scheduleOn(yield* Effect.runtime<never>())
      let fired = 0
      schedule(() => (fired += 1), 1_000)
      yield* TestClock.adjust("999 millis")
      expect(fired).toBe(0)
      yield* TestClock.adjust("1 millis")
      expect(fired).toBe(1)
      yield* TestClock.adjust("10 seconds")
      expect(fired).toBe(1)
    })
  )

  it.effect("a cancelled timer never fires; cancelling twice or after firing is harmless", () =>
    Effect.gen(function* () {
      const schedule = scheduleOn(yield* Effect.runtime<never>())
      const fired: Array<string> = []
      const cancelA = schedule(() => fired.push("a"), 100)
      const cancelB = schedule(() => fired.push("b"), 200)
      cancelA()
      cancelA()
      yield* TestClock.adjust("200 millis")
      cancelB()
      expect(fired).toEqual(["b"])
    })
  )

  it.effect("a negative delay counts as zero: due at the current instant, without moving the clock", () =>
    Effect.gen(function* () {
      const schedule = scheduleOn(yield* Effect.runtime<never>())
      let fired = 0
      schedule(() => (fired += 1), -5)
      yield* Effect.yieldNow()
      expect(fired).toBe(1)
    })
  )
})

describe("scheduleOn on the live Clock", () => {
  it.live("fires after the delay; a cancelled timer does not", () =>
    Effect.gen(function* () {
      const schedule = scheduleOn(yield* Effect.runtime<never>())
      const done = yield* Deferred.make<number>()
      let cancelledFired = false
      const started = Date.now()
      schedule(() => Deferred.unsafeDone(done, Effect.succeed(Date.now() - started)), 20)
      schedule(() => (cancelledFired = true), 5)()
      const elapsed = yield* Deferred.await(done)
      // Host timers may round down by a millisecond; no upper bound on a loaded box.
      expect(elapsed).toBeGreaterThanOrEqual(19)
      expect(cancelledFired).toBe(false)
    })
  )

  it.live("a delay beyond the host timer range never fires (a bare setTimeout would fire it at once)", () =>
    Effect.gen(function* () {
      const schedule = scheduleOn(yield* Effect.runtime<never>())
      let fired = false
      const cancel = schedule(() => (fired = true), 2 ** 31)
      yield* Effect.sleep("50 millis")
      cancel()
      expect(fired).toBe(false)
    })
  )
})
