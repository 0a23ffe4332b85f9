/**
 * Running an Effect where plain code wants a Promise (XState promise actors, task handlers): the
 * node's one such bridge.
 */
import { Cause, Exit, Runtime } from "effect"
import type { Effect } from "effect"

/**
 * Runs effects on `runtime`, interrupted when `signal` aborts. A failure rejects with the plain
 * (squashed) error rather than a FiberFailure, so machine guards and the task runner's status
 * mapping can read its fields.
 */
export const promiseRunner =
  <R>(runtime: Runtime.Runtime<R>) =>
  <A, E>(effect: Effect.Effect<A, E, R>, signal?: AbortSignal): Promise<A> =>
    Runtime.runPromiseExit(runtime)(effect, signal === undefined ? undefined : { signal }).then((exit) =>
      Exit.isSuccess(exit) ? exit.value : Promise.reject(Cause.squash(exit.cause))
    )
