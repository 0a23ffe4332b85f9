/**
 * The clock bridge: XState schedules `after` delays through this, and it runs them on Effect's
 * `Clock`, so TestClock.adjust drives machine timers in tests exactly as it drives Effect sleeps.
 */
import { Clock, Context, DefaultServices, Duration, Effect, FiberId, FiberRefs, Runtime } from "effect"
import type { ActorOptions, AnyActorLogic } from "xstate"

/** XState's clock interface (not exported by name from xstate). */
export type XStateClock = NonNullable<ActorOptions<AnyActorLogic>["clock"]>

/** Cancels a timer of {@link scheduleOn}; a no-op once it has fired or been cancelled. */
export type CancelTimer = () => void

/** Runs a callback after a delay in ms on an Effect clock; returns its canceller. */
export type ScheduleTimer = (task: () => void, delayMs: number) => CancelTimer

/** The `Clock` service the fibers of `runtime` see (TestClock under `it.effect`): read it outside a fiber. */
export const clockOf = <R>(runtime: Runtime.Runtime<R>): Clock.Clock =>
  Context.get(FiberRefs.getOrDefault(runtime.fiberRefs, DefaultServices.currentServices), Clock.Clock)

/** Effect's default Clock, whose `sleep` is a host timer. */
const liveClock = Context.get(DefaultServices.liveServices, Clock.Clock)

/** The live Clock treats delays beyond the host timer range as never firing; so does the fast path. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** Host timers, as the live Clock's `sleep` sets them, without a fiber around them; one function for every task. */
const scheduleLive: ScheduleTimer = (task, delayMs) => {
  if (delayMs > MAX_TIMER_MS) return () => undefined
  const handle = setTimeout(task, Math.max(0, delayMs))
  return () => clearTimeout(handle)
}

/**
 * A timer scheduler on the Clock of `runtime`. On Effect's live Clock a timer is a host timer; on
 * any other Clock (TestClock, a custom one) it is a small root fiber sleeping on that Clock,
 * cancelled in place. Either is cheap enough to arm per task and per attempt.
 */
export const scheduleOn = <R>(runtime: Runtime.Runtime<R>): ScheduleTimer => {
  const clock = clockOf(runtime)
  if (clock === liveClock) return scheduleLive
  const fork = Runtime.runFork(runtime)
  return (task, delayMs) => {
    const fiber = fork(Effect.andThen(clock.sleep(Duration.millis(Math.max(0, delayMs))), Effect.sync(task)))
    return () => fiber.unsafeInterruptAsFork(FiberId.none)
  }
}

const xstateClock = (schedule: ScheduleTimer): XStateClock => ({
  setTimeout: (fn: (...args: Array<unknown>) => void, timeoutMs: number) => schedule(fn, timeoutMs),
  clearTimeout: (handle: unknown) => (handle as CancelTimer)()
})

const liveXStateClock = xstateClock(scheduleLive)

/** An XState clock whose timers run on the Clock of `runtime` (see {@link scheduleOn}). */
export const bridgedClock = <R>(runtime: Runtime.Runtime<R>): XStateClock => {
  const schedule = scheduleOn(runtime)
  return schedule === scheduleLive ? liveXStateClock : xstateClock(schedule)
}
