import { it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { expect } from "vitest"
import { createMachine } from "xstate"
import { runToCompletion } from "../../src/runtime/host.js"

const timer = createMachine({
  id: "timer",
  initial: "waiting",
  states: {
    waiting: { after: { 1000: "done" }, on: { CANCEL: "cancelled" } },
    done: { type: "final" },
    cancelled: { type: "final" }
  }
})

it.effect("machine `after` delays run on the Effect clock (TestClock)", () =>
  Effect.gen(function* () {
    const fiber = yield* Effect.fork(runToCompletion(timer, undefined))
    yield* TestClock.adjust("999 millis")
    expect(fiber.unsafePoll()).toBeNull()
    yield* TestClock.adjust("1 millis")
    const snapshot = yield* Fiber.join(fiber)
    expect(snapshot.value).toBe("done")
  })
)

it.effect("interrupting the hosting fiber sends the cancel event and stops the actor", () =>
  Effect.gen(function* () {
    let last: unknown
    const fiber = yield* Effect.fork(
      runToCompletion(timer, undefined, {
        cancelEvent: { type: "CANCEL" },
        inspect: (event) => {
          if (event.type === "@xstate.snapshot") last = (event.snapshot as unknown as { value: unknown }).value
        }
      })
    )
    yield* TestClock.adjust("10 millis")
    yield* Fiber.interrupt(fiber)
    expect(last).toBe("cancelled")
  })
)

it.effect("aborting the signal sends the cancel event: the effect ends with the cancelled snapshot, not interrupted", () =>
  Effect.gen(function* () {
    const controller = new AbortController()
    const fiber = yield* Effect.fork(runToCompletion(timer, undefined, { cancelEvent: { type: "CANCEL" }, signal: controller.signal }))
    yield* TestClock.adjust("10 millis")
    controller.abort()
    const snapshot = yield* Fiber.join(fiber)
    expect(snapshot.value).toBe("cancelled")
  })
)

it.effect("a signal aborted before the start cancels at once", () =>
  Effect.gen(function* () {
    const controller = new AbortController()
    controller.abort()
    const snapshot = yield* runToCompletion(timer, undefined, { cancelEvent: { type: "CANCEL" }, signal: controller.signal })
    expect(snapshot.value).toBe("cancelled")
  })
)

it.effect("a given clock drives the machine instead of the runtime's", () =>
  Effect.gen(function* () {
    const armed: Array<{ fn: () => void; ms: number }> = []
    const clock = {
      setTimeout: (fn: () => void, ms: number) => armed.push({ fn, ms }),
      clearTimeout: () => undefined
    }
    const fiber = yield* Effect.fork(runToCompletion(timer, undefined, { clock }))
    yield* TestClock.adjust("5 seconds")
    expect(fiber.unsafePoll()).toBeNull()
    expect(armed.map((t) => t.ms)).toEqual([1000])
    armed[0]!.fn()
    expect((yield* Fiber.join(fiber)).value).toBe("done")
  })
)
