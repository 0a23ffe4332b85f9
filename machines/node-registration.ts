/**
 * A provider node's life with its directory (WIRE.md §5.1–§5.3):
 * unregistered → registering → registered (heartbeats) → re-registering → draining → deregistered.
 *
 * Pure: the directory calls are the named actors `register`, `heartbeat`, `deregister`; draining
 * in-flight tasks is the named actor `drain`; `commands` is a callback actor through which the
 * runtime sends STOP and REREGISTER. Timers are the named delays `registerBackoff`,
 * `heartbeatInterval`, `heartbeatRetry` and `drainTimeout`; their defaults carry no jitter, the
 * runtime provides jittered ones (so tests can drive exact times).
 */
import { assign, fromCallback, fromPromise, setup } from "xstate"
import type { EventObject } from "xstate"

/** Seconds between register attempts after the n-th consecutive failure (§5.1); the last value repeats. */
export const REGISTER_BACKOFF_SCHEDULE_MS: ReadonlyArray<number> = [2_000, 4_000, 8_000, 16_000, 32_000, 60_000]
/** Heartbeat period and the bounds within which a PONG's `next_heartbeat_ms` is honoured (§5.3). */
export const HEARTBEAT_DEFAULT_MS = 30_000
export const HEARTBEAT_BOUNDS_MS = { min: 5_000, max: 60_000 } as const
/** Delay before the single retry of a timed-out heartbeat (§5.3). */
export const HEARTBEAT_RETRY_MS = 100
/** Bound on draining in-flight tasks before deregistering (§5.1). */
export const DRAIN_BOUND_MS = 10_000
/** Consecutive failed beats after which the directory is presumed to have dropped the node. */
export const OUTAGE_FAILURES = 3

/** What the `register` actor is given. `currentNodeToken` is set on re-registration (§5.2). */
export interface RegisterCall {
  readonly nodeId: string | undefined
  readonly currentNodeToken: string | undefined
}

/** A successful register ACK, as the runtime extracted it. */
export interface RegisterAck {
  readonly nodeToken: string
  readonly nodeId?: string | undefined
  readonly nodeHmacKey?: string | undefined
  readonly observedSourceIp?: string | undefined
}

/** What the `heartbeat` and `deregister` actors are given. */
export interface AuthenticatedCall {
  readonly nodeId: string | undefined
  readonly nodeToken: string
}

/** A PONG, as the runtime extracted it. */
export interface HeartbeatPong {
  readonly nextHeartbeatMs?: number | undefined
}

/**
 * Why a heartbeat failed: `rejected` carries the directory's status (401, 404, 410 mean the
 * registration is gone), `timeout` is retried once, `failed` is any other outage.
 */
export type HeartbeatFailure =
  | { readonly kind: "rejected"; readonly status: number }
  | { readonly kind: "timeout" }
  | { readonly kind: "failed" }

/** Input of the machine. */
export interface NodeRegistrationInput {
  /** Our node id; `undefined` lets the directory assign one (§2.4), which is then adopted. */
  readonly nodeId?: string | undefined
  /** A token from an earlier register: skip straight to heartbeats. */
  readonly nodeToken?: string | undefined
  /** Consecutive failed beats counted as an outage; default {@link OUTAGE_FAILURES}. */
  readonly outageFailures?: number
}

/** Context of the machine. */
export interface NodeRegistrationContext {
  readonly nodeId: string | undefined
  readonly nodeToken: string | undefined
  readonly nodeHmacKey: string | undefined
  readonly observedSourceIp: string | undefined
  /** Consecutive failed register attempts: selects the back-off step. */
  readonly registerFailures: number
  /** Consecutive failed beats (any kind). */
  readonly heartbeatFailures: number
  /** Whether the current beat is already the retry of a timed-out one. */
  readonly heartbeatRetried: boolean
  /** The period until the next beat, from the last PONG, within {@link HEARTBEAT_BOUNDS_MS}. */
  readonly heartbeatIntervalMs: number
  readonly outageFailures: number
}

/** Events the runtime sends through the `commands` actor. */
export type NodeRegistrationEvent =
  | { readonly type: "STOP" }
  /** The registration is stale (endpoint or model list changed): register again with the current token. */
  | { readonly type: "REREGISTER" }

/** `ms` clamped to {@link HEARTBEAT_BOUNDS_MS}, in whole ms: a period no PONG and no jitter may leave. */
export const withinHeartbeatBounds = (ms: number): number => Math.min(HEARTBEAT_BOUNDS_MS.max, Math.max(HEARTBEAT_BOUNDS_MS.min, Math.round(ms)))

/** The `next_heartbeat_ms` a PONG asked for, honoured within the bounds; otherwise the default period. */
export const heartbeatPeriod = (requested: number | undefined): number =>
  requested !== undefined && Number.isFinite(requested) ? withinHeartbeatBounds(requested) : HEARTBEAT_DEFAULT_MS

/** The un-jittered back-off after `failures` consecutive failed register attempts (1-based). */
export const registerBackoffMs = (failures: number): number =>
  REGISTER_BACKOFF_SCHEDULE_MS[Math.min(Math.max(failures, 1), REGISTER_BACKOFF_SCHEDULE_MS.length) - 1]!

const REGISTRATION_GONE: ReadonlySet<number> = new Set([401, 404, 410])

const failureOf = (event: EventObject): HeartbeatFailure | undefined => (event as { error?: HeartbeatFailure }).error

export const nodeRegistrationMachine = setup({
  types: {
    context: {} as NodeRegistrationContext,
    events: {} as NodeRegistrationEvent,
    input: {} as NodeRegistrationInput
  },
  actors: {
    register: fromPromise<RegisterAck, RegisterCall>(() => Promise.reject(new Error("register actor not provided"))),
    heartbeat: fromPromise<HeartbeatPong, AuthenticatedCall>(() => Promise.reject(new Error("heartbeat actor not provided"))),
    deregister: fromPromise<void, AuthenticatedCall>(() => Promise.resolve()),
    drain: fromPromise<void>(() => Promise.resolve()),
    commands: fromCallback<EventObject>(() => undefined)
  },
  guards: {
    hasToken: ({ context }) => context.nodeToken !== undefined,
    registrationGone: ({ event }) => {
      const failure = failureOf(event)
      return failure?.kind === "rejected" && REGISTRATION_GONE.has(failure.status)
    },
    firstTimeout: ({ context, event }) => failureOf(event)?.kind === "timeout" && !context.heartbeatRetried,
    directoryOutage: ({ context }) => context.heartbeatFailures + 1 >= context.outageFailures
  },
  actions: {
    adoptAck: assign(({ context, event }) => {
      const ack = (event as unknown as { output: RegisterAck }).output
      return {
        nodeToken: ack.nodeToken,
        nodeId: ack.nodeId ?? context.nodeId,
        nodeHmacKey: ack.nodeHmacKey ?? context.nodeHmacKey,
        observedSourceIp: ack.observedSourceIp ?? context.observedSourceIp,
        registerFailures: 0,
        heartbeatFailures: 0,
        heartbeatRetried: false
      }
    }),
    countRegisterFailure: assign({ registerFailures: ({ context }) => context.registerFailures + 1 }),
    adoptPong: assign(({ event }) => ({
      heartbeatIntervalMs: heartbeatPeriod((event as unknown as { output: HeartbeatPong }).output.nextHeartbeatMs),
      heartbeatFailures: 0,
      heartbeatRetried: false
    })),
    markRetry: assign({ heartbeatRetried: true }),
    countHeartbeatFailure: assign({
      heartbeatFailures: ({ context }) => context.heartbeatFailures + 1,
      heartbeatRetried: false
    })
  },
  delays: {
    registerBackoff: ({ context }) => registerBackoffMs(context.registerFailures),
    heartbeatInterval: ({ context }) => context.heartbeatIntervalMs,
    heartbeatRetry: HEARTBEAT_RETRY_MS,
    drainTimeout: DRAIN_BOUND_MS
  }
}).createMachine({
  id: "nodeRegistration",
  context: ({ input }) => ({
    nodeId: input.nodeId,
    nodeToken: input.nodeToken,
    nodeHmacKey: undefined,
    observedSourceIp: undefined,
    registerFailures: 0,
    heartbeatFailures: 0,
    heartbeatRetried: false,
    heartbeatIntervalMs: HEARTBEAT_DEFAULT_MS,
    outageFailures: input.outageFailures ?? OUTAGE_FAILURES
  }),
  invoke: { id: "commands", src: "commands" },
  initial: "unregistered",
  states: {
    unregistered: {
      always: [{ guard: "hasToken", target: "registered" }, { target: "registering" }]
    },
    registering: {
      initial: "calling",
      on: { STOP: "draining" },
      states: {
        calling: {
          invoke: {
            id: "register",
            src: "register",
            input: ({ context }) => ({ nodeId: context.nodeId, currentNodeToken: undefined }),
            onDone: { target: "#nodeRegistration.registered", actions: "adoptAck" },
            onError: { target: "backingOff", actions: "countRegisterFailure" }
          }
        },
        backingOff: { after: { registerBackoff: "calling" } }
      }
    },
    registered: {
      initial: "beating",
      on: { STOP: "draining", REREGISTER: "reregistering" },
      states: {
        beating: {
          invoke: {
            id: "heartbeat",
            src: "heartbeat",
            input: ({ context }) => ({ nodeId: context.nodeId, nodeToken: context.nodeToken! }),
            onDone: { target: "idle", actions: "adoptPong" },
            onError: [
              { guard: "registrationGone", target: "#nodeRegistration.reregistering" },
              { guard: "firstTimeout", target: "retrying", actions: "markRetry" },
              { guard: "directoryOutage", target: "#nodeRegistration.reregistering" },
              { target: "idle", actions: "countHeartbeatFailure" }
            ]
          }
        },
        retrying: { after: { heartbeatRetry: "beating" } },
        idle: { after: { heartbeatInterval: "beating" } }
      }
    },
    reregistering: {
      initial: "calling",
      on: { STOP: "draining" },
      states: {
        calling: {
          invoke: {
            id: "register",
            src: "register",
            input: ({ context }) => ({ nodeId: context.nodeId, currentNodeToken: context.nodeToken }),
            onDone: { target: "#nodeRegistration.registered", actions: "adoptAck" },
            onError: { target: "backingOff", actions: "countRegisterFailure" }
          }
        },
        backingOff: { after: { registerBackoff: "calling" } }
      }
    },
    draining: {
      invoke: {
        id: "drain",
        src: "drain",
        onDone: [{ guard: "hasToken", target: "deregistering" }, { target: "deregistered" }],
        onError: [{ guard: "hasToken", target: "deregistering" }, { target: "deregistered" }]
      },
      after: { drainTimeout: [{ guard: "hasToken", target: "deregistering" }, { target: "deregistered" }] }
    },
    deregistering: {
      invoke: {
        id: "deregister",
        src: "deregister",
        input: ({ context }) => ({ nodeId: context.nodeId, nodeToken: context.nodeToken! }),
        onDone: "deregistered",
        onError: "deregistered"
      }
    },
    deregistered: { type: "final" }
  }
})

/** The machine's type, for `provide` and tests. */
export type NodeRegistrationMachine = typeof nodeRegistrationMachine
