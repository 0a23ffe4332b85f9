/**
 * The node's registration with its directory: the pure `nodeRegistrationMachine` hosted in an
 * Effect fiber on the bridged clock, with its actors and delays provided here (HTTP calls,
 * draining, jittered timers drawn from Effect's `Random`, so tests control them). Calls go to the
 * {@link DirectoryBase}, which a register answered at the §4.1 `/api` fallback moves for good.
 */
import { Context, Duration, Effect, Fiber, Layer, Random, Runtime } from "effect"
import type { Scope } from "effect"
import { fromCallback, fromPromise } from "xstate"
import type { EventObject } from "xstate"
import { HEARTBEAT_JITTER_RATIO, HEARTBEAT_OUTAGE_FAILURES, REGISTER_BACKOFF_JITTER_RATIO } from "../constants.js"
import { InvalidConfig } from "../protocol/errors.js"
import type { DirectoryUnavailable } from "../protocol/errors.js"
import { runToCompletion } from "../runtime/host.js"
import { combineInspect, onRootState } from "../runtime/inspector.js"
import { nodeRegistrationMachine, registerBackoffMs, withinHeartbeatBounds } from "../../machines/node-registration.js"
import type { RegisterAck } from "../../machines/node-registration.js"
import { jittered } from "../../machines/task-lifecycle.js"
import { Admission } from "./admission.js"
import { NodeSettings } from "./config.js"
import { DirectoryAgent } from "./directory-agent.js"
import { DirectoryBase } from "./directory-base.js"
import { deleteRegistration, heartbeatBody, heartbeatFailure, postHeartbeat, postRegister, registerBody } from "./directory-client.js"
import type { Registered, RegisterExtras } from "./directory-client.js"
import { NodeLifecycle } from "./lifecycle.js"
import { promiseRunner } from "./promise-runner.js"

/** What the node knows about its registration. */
export interface RegistrationState {
  readonly nodeId: string
  readonly nodeToken: string | undefined
  readonly observedSourceIp: string | undefined
  /** The machine's state (`registered.idle`, `reregistering.backingOff`, …), or `stopped` when none runs. */
  readonly phase: string
}

/** Registration as a service. */
export interface NodeRegistrar {
  /** One register call (§5.2) for `endpoint`; keeps and returns the ACK. Re-registers with the current token when there is one. */
  readonly register: (endpoint: string) => Effect.Effect<RegisterAck, DirectoryUnavailable | InvalidConfig>
  /** Hosts the registration machine (register, heartbeats, re-registration) until `stop` or the scope closes. */
  readonly start: (endpoint: string) => Effect.Effect<void, InvalidConfig, Scope.Scope>
  /** Graceful end: the machine drains, deregisters and finishes; without a machine, only draining. */
  readonly stop: Effect.Effect<void>
  /** Deregisters a registration made by `register` alone (no machine running); nothing to do without a token. */
  readonly deregister: Effect.Effect<void, DirectoryUnavailable | InvalidConfig>
  /** Asks a running machine to register again (endpoint or model list changed). */
  readonly reregister: Effect.Effect<void>
  readonly state: Effect.Effect<RegistrationState>
}

/** Registration as an Effect service. */
export class Registration extends Context.Tag("iicp-mesh/Registration")<Registration, NodeRegistrar>() {
  /** The registrar; `extras` adds optional register fields (transport tier, relay, pricing). */
  static readonly layer = (
    extras: RegisterExtras = () => ({})
  ): Layer.Layer<Registration, never, NodeSettings | DirectoryAgent | DirectoryBase | Admission | NodeLifecycle> =>
    Layer.effect(Registration, makeRegistrar(extras))
}

const makeRegistrar = (extras: RegisterExtras) =>
  Effect.gen(function* () {
    const config = yield* NodeSettings
    const agent = yield* DirectoryAgent
    const bases = yield* DirectoryBase
    const admission = yield* Admission
    const lifecycle = yield* NodeLifecycle
    const log = config.logger
    let nodeId = config.nodeId
    let nodeToken: string | undefined
    let observedSourceIp: string | undefined
    let phase = "stopped"
    let sendCommand: ((event: EventObject) => void) | undefined
    let machineFiber: Fiber.RuntimeFiber<unknown> | undefined

    const directory = Effect.suspend(() => Effect.fromNullable(bases.current())).pipe(
      Effect.orElseFail(() => new InvalidConfig({ field: "directoryUrl", message: "no directoryUrl configured" }))
    )

    const adopt = ({ ack, base }: Registered) =>
      Effect.sync(() => {
        nodeToken = ack.nodeToken
        nodeId = ack.nodeId ?? nodeId
        observedSourceIp = ack.observedSourceIp ?? observedSourceIp
        if (base !== bases.current()) {
          bases.adopt(base)
          log.info("directory base moved to its /api fallback")
        }
        log.info("registered", { node_id: nodeId })
      })

    const registerAt = (base: string, endpoint: string, current: string | undefined) =>
      postRegister(agent, base, registerBody(config, endpoint, nodeId, current, extras())).pipe(
        Effect.tap(adopt),
        Effect.map((registered) => registered.ack)
      )

    const heartbeatAt = (base: string, token: string) =>
      Effect.gen(function* () {
        const snapshot = yield* admission.snapshot
        const draining = yield* lifecycle.isDraining
        return yield* postHeartbeat(agent, base, token, heartbeatBody(nodeId, snapshot, draining))
      })

    const drain = admission.idle.pipe(Effect.timeout(Duration.millis(config.drainTimeoutMs)), Effect.ignore)

    const start = (endpoint: string) =>
      Effect.gen(function* () {
        const configured = yield* directory
        // Read at each call: a register may have moved the base (§4.1).
        const base = () => bases.current() ?? configured
        const runtime = yield* Effect.runtime<never>()
        // Failures reach the machine as plain errors, so its guards can read them.
        const actorRun = promiseRunner(runtime)
        const unit = () => Runtime.runSync(runtime)(Random.next)
        const logic = nodeRegistrationMachine.provide({
          actors: {
            register: fromPromise(({ input, signal }) =>
              actorRun(
                registerAt(base(), endpoint, input.currentNodeToken).pipe(
                  Effect.tapError((error) => Effect.sync(() => log.warn("register failed", { reason: error.reason, status: error.status })))
                ),
                signal
              )
            ),
            heartbeat: fromPromise(({ input, signal }) =>
              actorRun(
                heartbeatAt(base(), input.nodeToken).pipe(
                  Effect.mapError(heartbeatFailure),
                  Effect.tapError((failure) => Effect.sync(() => log.warn("heartbeat failed", { kind: failure.kind })))
                ),
                signal
              )
            ),
            deregister: fromPromise(({ input, signal }) =>
              actorRun(
                deleteRegistration(agent, base(), input.nodeId, input.nodeToken).pipe(
                  Effect.tap(() => Effect.sync(() => log.info("deregistered", { node_id: nodeId })))
                ),
                signal
              )
            ),
            drain: fromPromise(({ signal }) => actorRun(drain, signal)),
            commands: fromCallback(({ sendBack }) => {
              sendCommand = sendBack
              return () => {
                sendCommand = undefined
              }
            })
          },
          delays: {
            registerBackoff: ({ context }) => jittered(registerBackoffMs(context.registerFailures), REGISTER_BACKOFF_JITTER_RATIO, unit()),
            // Jitter never takes the period out of the §5.3 bounds (a PONG asking for 60 s gets at most 60 s).
            heartbeatInterval: ({ context }) => withinHeartbeatBounds(jittered(context.heartbeatIntervalMs, HEARTBEAT_JITTER_RATIO, unit())),
            drainTimeout: config.drainTimeoutMs
          }
        })
        machineFiber = yield* Effect.forkScoped(
          runToCompletion(logic, { nodeId, nodeToken, outageFailures: HEARTBEAT_OUTAGE_FAILURES }, {
            id: `node-registration:${nodeId}`,
            inspect: combineInspect(
              onRootState((state) => (phase = state)),
              config.inspect
            )
          }).pipe(Effect.ensuring(Effect.sync(() => (phase = "stopped"))))
        )
      })

    return {
      register: (endpoint) => Effect.flatMap(directory, (base) => registerAt(base, endpoint, nodeToken)),
      start,
      stop: Effect.suspend(() => {
        const fiber = machineFiber
        if (fiber === undefined || sendCommand === undefined) return drain
        sendCommand({ type: "STOP" })
        return Effect.asVoid(Fiber.await(fiber))
      }),
      deregister: Effect.suspend(() => {
        const token = nodeToken
        if (token === undefined || machineFiber !== undefined) return Effect.void
        return Effect.flatMap(directory, (base) => deleteRegistration(agent, base, nodeId, token)).pipe(
          Effect.tap(() =>
            Effect.sync(() => {
              nodeToken = undefined
              log.info("deregistered", { node_id: nodeId })
            })
          )
        )
      }),
      reregister: Effect.sync(() => sendCommand?.({ type: "REREGISTER" })),
      state: Effect.sync(() => ({ nodeId, nodeToken, observedSourceIp, phase }))
    } satisfies NodeRegistrar
  })
