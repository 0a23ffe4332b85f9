/**
 * One client task from submit to its end (WIRE.md §4.2–§4.4):
 * selecting (→ discovering → selecting) → submitting ⇄ failingOver / backingOff → succeeded | failed | cancelled.
 *
 * Pure: discovery and each attempt are the named actors `discover` and `submitAttempt`, which the
 * runtime provides and which report back with classified events (errors are events, never throws).
 * Retries, back-off and failover are transitions here, not loops in service code. Timers are the
 * named delays `backoff` and `taskDeadline`, computed from context; the jitter of the back-off comes
 * from `input.jitterSamples`, so nothing random hides in the machine.
 */
import { and, assign, fromCallback, setup } from "xstate"
import type { EventObject } from "xstate"

/** At most this many attempts per task, across candidates (SDK-01, §4.3). */
export const TASK_MAX_ATTEMPTS = 3
/** Back-off before retry n: `base × factor^(n−1) × U(1 − ratio, 1 + ratio)` (§4.4). */
export const TASK_BACKOFF = { baseMs: 200, factor: 2, jitterRatio: 0.2 } as const
/** A retry hint above this skips the node that gave it instead of waiting (§4.4). */
export const TASK_MAX_HINT_MS = 30_000
/** Codes whose attempts count as timed out for the exhaustion rule (§4.4: `IICP-E003`, `task_timeout`). */
export const TASK_TIMEOUT_CODES: ReadonlyArray<string> = ["IICP-E003", "task_timeout"]

/** A node the task may be sent to, in the directory's order. */
export interface TaskCandidate {
  readonly nodeId: string
  readonly endpoint: string
  /** `false` drops the node at selection (§4.2); absent means available. */
  readonly available?: boolean
  /** Reached through a relay: 502/504 then mean "try the next candidate" (§4.4). */
  readonly relayed?: boolean
}

/** One finished, unsuccessful attempt (the `attempts` list of `no_available_node`). */
export interface TaskAttempt {
  readonly nodeId: string
  readonly code: string
  readonly httpStatus?: number | undefined
}

/** Input of the machine. */
export interface TaskLifecycleInput {
  /** The task's id; handed to the actors so the runtime can find the task (the machine holds no payload). */
  readonly taskId: string
  /** Deadline for the whole task, all attempts and discovery included, in ms. */
  readonly deadlineMs: number
  /** Attempts allowed, clamped to 1…{@link TASK_MAX_ATTEMPTS}; default {@link TASK_MAX_ATTEMPTS}. */
  readonly maxAttempts?: number
  /** Skip discovery and use these candidates (a submit aimed at one node). */
  readonly candidates?: ReadonlyArray<TaskCandidate>
  /** Uniform samples in [0, 1), one per retry, that set the back-off jitter; missing samples mean no jitter. */
  readonly jitterSamples?: ReadonlyArray<number>
}

/** What the `discover` actor is given. */
export interface DiscoverCall {
  readonly taskId: string
}

/** What the `submitAttempt` actor is given. `attempt` counts from 1. */
export interface AttemptCall {
  readonly taskId: string
  readonly candidate: TaskCandidate
  readonly attempt: number
}

/** Why the task failed. `error` values are the runtime's own error objects, passed through untouched. */
export type TaskFailure =
  | { readonly reason: "discovery"; readonly error: unknown }
  | { readonly reason: "no_candidates" }
  | { readonly reason: "terminal"; readonly nodeId: string; readonly error: unknown; readonly attempts: ReadonlyArray<TaskAttempt> }
  | {
      readonly reason: "exhausted"
      readonly allTimedOut: boolean
      readonly attempts: ReadonlyArray<TaskAttempt>
      readonly lastError: unknown
    }
  | { readonly reason: "deadline"; readonly attempts: ReadonlyArray<TaskAttempt> }

/** Output of the machine: exactly one per task. */
export type TaskLifecycleOutput =
  | { readonly status: "succeeded"; readonly nodeId: string; readonly result: unknown; readonly attempts: ReadonlyArray<TaskAttempt> }
  | { readonly status: "failed"; readonly failure: TaskFailure }
  | { readonly status: "cancelled"; readonly attempts: ReadonlyArray<TaskAttempt> }

/** Fields every unsuccessful attempt event carries. */
interface AttemptFailureFields {
  readonly code: string
  readonly httpStatus?: number | undefined
  /** The node's retry hint (`retry_after_ms`, `retry_after`, `Retry-After`) in ms. */
  readonly hintMs?: number | undefined
  /** The runtime's error for this attempt; becomes the `cause` when the task fails. */
  readonly error?: unknown
}

/** Events of the machine: discovery and attempt outcomes (already classified by the runtime), and CANCEL. */
export type TaskLifecycleEvent =
  | { readonly type: "DISCOVERY.DONE"; readonly candidates: ReadonlyArray<TaskCandidate> }
  | { readonly type: "DISCOVERY.FAILED"; readonly error: unknown }
  | { readonly type: "ATTEMPT.SUCCEEDED"; readonly result: unknown }
  /** 429 `capacity_exceeded`: next candidate at once. */
  | ({ readonly type: "ATTEMPT.CAPACITY" } & AttemptFailureFields)
  /** 429 other, 503, 504, relay 502/504, `IICP-E003`, `IICP-E004`: next candidate after max(backoff, hint). */
  | ({ readonly type: "ATTEMPT.RETRYABLE" } & AttemptFailureFields)
  /** 404 `not_found`, `unknown_intent`, `IICP-E030`: next candidate without delay; this node is dropped. */
  | ({ readonly type: "ATTEMPT.WRONG_NODE" } & AttemptFailureFields)
  /** 400, 401, 403, 409, 413, 422, 500, 502 from a node, anything else: the task fails. */
  | ({ readonly type: "ATTEMPT.TERMINAL" } & AttemptFailureFields)
  /** The runtime did not send (the node's circuit breaker is open): not an attempt; the node is dropped. */
  | { readonly type: "ATTEMPT.SKIPPED" }
  | { readonly type: "CANCEL" }

type FailureEvent = Extract<TaskLifecycleEvent, { type: "ATTEMPT.CAPACITY" | "ATTEMPT.RETRYABLE" | "ATTEMPT.WRONG_NODE" }>

/** Context of the machine. */
export interface TaskLifecycleContext {
  readonly taskId: string
  /** Candidates are still to come from the `discover` actor: no `input.candidates` and no discover answer yet. */
  readonly mustDiscover: boolean
  readonly deadlineMs: number
  readonly maxAttempts: number
  readonly jitterSamples: ReadonlyArray<number>
  /** Candidates still in rotation, directory order (unavailable, skipped and wrong nodes removed). */
  readonly rotation: ReadonlyArray<TaskCandidate>
  /** Node ids whose attempt in the current pass over `rotation` has ended. */
  readonly triedThisPass: ReadonlyArray<string>
  /** Last retry hint per node id, waited for when the rotation comes back to that node. */
  readonly hints: Readonly<Record<string, number>>
  /** The node of the current or next attempt. */
  readonly current: TaskCandidate | undefined
  /** Delay before the next attempt (the `backoff` delay). */
  readonly delayMs: number
  readonly attempts: ReadonlyArray<TaskAttempt>
  readonly lastError: unknown
  readonly output: TaskLifecycleOutput | undefined
}

/** `baseMs` spread by ±`ratio` for a uniform sample `u` in [0, 1] (0.5 = no jitter), in whole ms. */
export const jittered = (baseMs: number, ratio: number, u: number): number =>
  Math.round(baseMs * (1 - ratio + 2 * ratio * Math.min(Math.max(u, 0), 1)))

/** Back-off before retry `retry` (1-based) for a jitter sample `u` in [0, 1) (§4.4), in whole ms. */
export const backoffDelayMs = (retry: number, u = 0.5): number =>
  jittered(TASK_BACKOFF.baseMs * TASK_BACKOFF.factor ** Math.max(0, retry - 1), TASK_BACKOFF.jitterRatio, u)

/** The next candidate and the delay before it, after `event` ended the attempt on `context.current`. */
const planAfter = (
  context: TaskLifecycleContext,
  event: FailureEvent | { readonly type: "ATTEMPT.SKIPPED" }
): Pick<TaskLifecycleContext, "rotation" | "triedThisPass" | "hints" | "current" | "delayMs" | "attempts" | "lastError"> => {
  const node = context.current
  const failed = event.type !== "ATTEMPT.SKIPPED"
  const hint = failed ? event.hintMs : undefined
  // A node that is the wrong one, is skipped by its breaker, or asks for more than 30 s leaves the rotation.
  const drop = !failed || event.type === "ATTEMPT.WRONG_NODE" || (hint !== undefined && hint > TASK_MAX_HINT_MS)
  const rotation = drop && node ? context.rotation.filter((c) => c.nodeId !== node.nodeId) : context.rotation
  const attempts = failed && node ? [...context.attempts, { nodeId: node.nodeId, code: event.code, httpStatus: event.httpStatus }] : context.attempts
  const hints = node && hint !== undefined && hint <= TASK_MAX_HINT_MS ? { ...context.hints, [node.nodeId]: hint } : context.hints
  const lastError = failed ? (event.error ?? context.lastError) : context.lastError
  const retry = attempts.length
  const backoff = backoffDelayMs(retry, context.jitterSamples[retry - 1])
  const triedThisPass = node ? [...context.triedThisPass, node.nodeId] : context.triedThisPass
  const untried = rotation.filter((c) => !triedThisPass.includes(c.nodeId))
  const base = { rotation, hints, attempts, lastError }
  if (untried.length > 0) {
    const delayMs =
      event.type === "ATTEMPT.RETRYABLE" ? Math.max(backoff, hint !== undefined && hint <= TASK_MAX_HINT_MS ? hint : 0) : 0
    return { ...base, triedThisPass, current: untried[0], delayMs }
  }
  // Every candidate was tried: start the pass again at the first, never in a tight loop.
  const next = rotation[0]
  return { ...base, triedThisPass: [], current: next, delayMs: next ? Math.max(backoff, hints[next.nodeId] ?? 0) : 0 }
}

/** The starting rotation: the directory's order, unavailable nodes dropped (§4.2). */
const candidatesOf = (
  candidates: ReadonlyArray<TaskCandidate>
): Pick<TaskLifecycleContext, "rotation" | "current" | "triedThisPass"> => {
  const rotation = candidates.filter((c) => c.available !== false)
  return { rotation, current: rotation[0], triedThisPass: [] }
}

const exhaustion = (context: TaskLifecycleContext): TaskLifecycleOutput => ({
  status: "failed",
  failure:
    context.attempts.length === 0
      ? { reason: "no_candidates" }
      : {
          reason: "exhausted",
          allTimedOut: context.attempts.every((a) => TASK_TIMEOUT_CODES.includes(a.code)),
          attempts: context.attempts,
          lastError: context.lastError
        }
})

/** The task lifecycle machine. Provide `discover` and `submitAttempt` (and, if wanted, the delays) with `machine.provide`. */
export const taskLifecycleMachine = setup({
  types: {
    context: {} as TaskLifecycleContext,
    events: {} as TaskLifecycleEvent,
    input: {} as TaskLifecycleInput,
    output: {} as TaskLifecycleOutput
  },
  actors: {
    /** Discovers candidates; sends DISCOVERY.DONE or DISCOVERY.FAILED. */
    discover: fromCallback<EventObject, DiscoverCall>(() => undefined),
    /** Sends the task to `input.candidate`; sends exactly one ATTEMPT.* event. Stopping it aborts the request. */
    submitAttempt: fromCallback<EventObject, AttemptCall>(() => undefined)
  },
  guards: {
    mustDiscover: ({ context }) => context.mustDiscover,
    hasCandidates: ({ context }) => context.rotation.length > 0,
    hasNextAttempt: ({ context }) => context.current !== undefined && context.attempts.length < context.maxAttempts,
    mustWait: ({ context }) => context.delayMs > 0
  },
  actions: {
    takeCandidates: assign(({ event }) => ({ ...candidatesOf(event.type === "DISCOVERY.DONE" ? event.candidates : []), mustDiscover: false })),
    planNext: assign(({ context, event }) =>
      event.type === "ATTEMPT.CAPACITY" ||
      event.type === "ATTEMPT.RETRYABLE" ||
      event.type === "ATTEMPT.WRONG_NODE" ||
      event.type === "ATTEMPT.SKIPPED"
        ? planAfter(context, event)
        : {}
    ),
    succeed: assign(({ context, event }) => ({
      output:
        event.type === "ATTEMPT.SUCCEEDED" && context.current
          ? { status: "succeeded" as const, nodeId: context.current.nodeId, result: event.result, attempts: context.attempts }
          : context.output
    })),
    failTerminal: assign(({ context, event }) => {
      if (event.type !== "ATTEMPT.TERMINAL" || !context.current) return {}
      const attempts = [...context.attempts, { nodeId: context.current.nodeId, code: event.code, httpStatus: event.httpStatus }]
      return {
        attempts,
        output: { status: "failed" as const, failure: { reason: "terminal" as const, nodeId: context.current.nodeId, error: event.error, attempts } }
      }
    }),
    failDiscovery: assign(({ event }) => ({
      output: { status: "failed" as const, failure: { reason: "discovery" as const, error: event.type === "DISCOVERY.FAILED" ? event.error : undefined } }
    })),
    failExhausted: assign(({ context }) => ({ output: exhaustion(context) })),
    failDeadline: assign(({ context }) => ({
      output: { status: "failed" as const, failure: { reason: "deadline" as const, attempts: context.attempts } }
    })),
    cancel: assign(({ context }) => ({ output: { status: "cancelled" as const, attempts: context.attempts } }))
  },
  delays: {
    backoff: ({ context }) => context.delayMs,
    taskDeadline: ({ context }) => context.deadlineMs
  }
}).createMachine({
  id: "taskLifecycle",
  context: ({ input }) => ({
    taskId: input.taskId,
    ...candidatesOf(input.candidates ?? []),
    mustDiscover: input.candidates === undefined,
    deadlineMs: input.deadlineMs,
    maxAttempts: Math.min(Math.max(Math.floor(input.maxAttempts ?? TASK_MAX_ATTEMPTS), 1), TASK_MAX_ATTEMPTS),
    jitterSamples: input.jitterSamples ?? [],
    hints: {},
    delayMs: 0,
    attempts: [],
    lastError: undefined,
    output: undefined
  }),
  initial: "running",
  states: {
    running: {
      after: { taskDeadline: { target: "failed", actions: "failDeadline" } },
      on: { CANCEL: { target: "cancelled", actions: "cancel" } },
      initial: "selecting",
      states: {
        discovering: {
          invoke: { src: "discover", input: ({ context }): DiscoverCall => ({ taskId: context.taskId }) },
          on: {
            "DISCOVERY.DONE": { target: "selecting", actions: "takeCandidates" },
            "DISCOVERY.FAILED": { target: "#taskLifecycle.failed", actions: "failDiscovery" }
          }
        },
        // Given candidates (a submit aimed at nodes, a warm discover cache) skip discovery.
        selecting: {
          always: [
            { guard: "mustDiscover", target: "discovering" },
            { guard: "hasCandidates", target: "submitting" },
            { target: "#taskLifecycle.failed", actions: "failExhausted" }
          ]
        },
        submitting: {
          invoke: {
            src: "submitAttempt",
            input: ({ context }): AttemptCall => ({ taskId: context.taskId, candidate: context.current!, attempt: context.attempts.length + 1 })
          },
          on: {
            "ATTEMPT.SUCCEEDED": { target: "#taskLifecycle.succeeded", actions: "succeed" },
            "ATTEMPT.TERMINAL": { target: "#taskLifecycle.failed", actions: "failTerminal" },
            "ATTEMPT.CAPACITY": { target: "failingOver", actions: "planNext" },
            "ATTEMPT.RETRYABLE": { target: "failingOver", actions: "planNext" },
            "ATTEMPT.WRONG_NODE": { target: "failingOver", actions: "planNext" },
            "ATTEMPT.SKIPPED": { target: "failingOver", actions: "planNext" }
          }
        },
        failingOver: {
          always: [
            { guard: and(["hasNextAttempt", "mustWait"]), target: "backingOff" },
            { guard: "hasNextAttempt", target: "submitting" },
            { target: "#taskLifecycle.failed", actions: "failExhausted" }
          ]
        },
        backingOff: {
          after: { backoff: "submitting" }
        }
      }
    },
    succeeded: { type: "final" },
    failed: { type: "final" },
    cancelled: { type: "final" }
  },
  output: ({ context }) => context.output ?? { status: "cancelled", attempts: context.attempts }
})
