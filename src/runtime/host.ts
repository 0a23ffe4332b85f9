/**
 * Hosting XState actors in Effect fibers: an actor lives exactly as long as the fiber that runs it.
 * Interrupting the fiber sends the machine its cancel event (so it can land in its `cancelled`
 * state) and stops the actor; timers run on the bridged Effect clock.
 */
import { Effect } from "effect"
import type { AnyActorLogic, AnyEventObject, InspectionEvent, Observer, SnapshotFrom } from "xstate"
import { createActor } from "xstate"
import { bridgedClock } from "./clock.js"
import type { XStateClock } from "./clock.js"

/** Options for {@link runToCompletion}. */
export interface HostOptions {
  /** Sent to the actor when the hosting fiber is interrupted, before it is stopped. */
  readonly cancelEvent?: AnyEventObject
  /** Inspection observer (e.g. the Stately inspector's `inspect`). */
  readonly inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void)
  /** A stable id for the actor, shown in the inspector. */
  readonly id?: string
  /** The actor's clock, for a caller that already bridged the current runtime's Clock; default {@link bridgedClock}. */
  readonly clock?: XStateClock
  /** Aborting it sends the actor `cancelEvent`, so the effect ends with the snapshot the machine reaches, not interrupted. */
  readonly signal?: AbortSignal
}

/**
 * Starts `logic` with `input` on the current Effect runtime's clock and waits until it reaches a
 * final state; yields its final snapshot. An actor error fails the effect with a defect.
 */
export const runToCompletion = <TLogic extends AnyActorLogic>(
  logic: TLogic,
  input: unknown,
  options: HostOptions = {}
): Effect.Effect<SnapshotFrom<TLogic>> =>
  options.clock
    ? hostActor(logic, input, options, options.clock)
    : Effect.flatMap(Effect.runtime<never>(), (runtime) => hostActor(logic, input, options, bridgedClock(runtime)))

const hostActor = <TLogic extends AnyActorLogic>(
  logic: TLogic,
  input: unknown,
  options: HostOptions,
  clock: XStateClock
): Effect.Effect<SnapshotFrom<TLogic>> =>
  Effect.async<SnapshotFrom<TLogic>>((resume) => {
    const actor = createActor(logic as AnyActorLogic, {
      input,
      clock,
      ...(options.inspect ? { inspect: options.inspect } : {}),
      ...(options.id ? { id: options.id } : {})
    })
    const cancel = () => {
      if ((actor.getSnapshot() as { status: string }).status === "active" && options.cancelEvent) actor.send(options.cancelEvent)
    }
    const { signal } = options
    const subscription = actor.subscribe({
      complete: () => {
        signal?.removeEventListener("abort", cancel)
        resume(Effect.succeed(actor.getSnapshot() as SnapshotFrom<TLogic>))
      },
      error: (error) => {
        signal?.removeEventListener("abort", cancel)
        resume(Effect.die(error))
      }
    })
    signal?.addEventListener("abort", cancel, { once: true })
    actor.start()
    if (signal?.aborted) cancel()
    return Effect.sync(() => {
      signal?.removeEventListener("abort", cancel)
      cancel()
      subscription.unsubscribe()
      actor.stop()
    })
  })
