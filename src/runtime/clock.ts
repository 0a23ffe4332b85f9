/**
 * The clock bridge: XState schedules `after` delays through this, and it runs them on Effect's
 * `Clock`, so TestClock.adjust drives machine timers in tests exactly as it drives Effect sleeps.
 */
import { Effect, Fiber, Runtime } from "effect"
import type { ActorOptions, AnyActorLogic } from "xstate"

/** XState's clock interface (not exported by name from xstate). */
export type XStateClock = NonNullable<ActorOptions<AnyActorLogic>["clock"]>

/** An XState clock whose timers are Effect sleeps run on `runtime`. */
export const bridgedClock = <R>(runtime: Runtime.Runtime<R>): XStateClock => {
  const fork = Runtime.runFork(runtime)
  return {
    setTimeout: (fn: (...args: Array<unknown>) => void, timeoutMs: number) =>
      fork(Effect.sleep(Math.max(0, timeoutMs)).pipe(Effect.andThen(Effect.sync(() => fn())))),
    clearTimeout: (handle: unknown) => {
      fork(Fiber.interrupt(handle as Fiber.RuntimeFiber<void>))
    }
  }
}

/** The bridged clock of the current Effect runtime. */
export const currentClock: Effect.Effect<XStateClock> = Effect.map(Effect.runtime<never>(), bridgedClock)
