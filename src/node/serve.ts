/**
 * A whole provider node as Effect: the service layer, and `serveNode`, which listens, then
 * registers and heartbeats when a directory is configured (listen before registering, §5.1),
 * and whose `stop` drains, deregisters and closes (§5.1 step 5).
 */
import { Duration, Effect, ExecutionStrategy, Exit, Layer, Schedule, Scope } from "effect"
import { BACKEND_HEALTH_INTERVAL_MS } from "../constants.js"
import type { InvalidConfig } from "../protocol/errors.js"
import { baseUrl } from "../runtime/http-server.js"
import type { ListenError } from "../runtime/http-server.js"
import { Admission } from "./admission.js"
import { makeNodeAuthenticator, NodeAuth, resolveAccess } from "./auth.js"
import { NodeSettings, resolveNodeConfig } from "./config.js"
import type { NodeOptions } from "./config.js"
import { DirectoryAgent } from "./directory-agent.js"
import { DirectoryBase } from "./directory-base.js"
import type { RegisterExtras } from "./directory-client.js"
import { Idempotency } from "./idempotency.js"
import { NodeLifecycle } from "./lifecycle.js"
import { NodeMetrics } from "./metrics.js"
import { Registration } from "./registration.js"
import { listenNode } from "./server.js"
import type { ListenOptions } from "./server.js"
import { hasHealthCheck } from "./task.js"
import type { TaskHandler } from "./task.js"
import { makeTaskRunner, TaskRunner } from "./task-runner.js"

/** Every service a node is made of (the task lane adds its handler when serving). */
export type NodeServices = NodeSettings | Admission | Idempotency | NodeMetrics | NodeLifecycle | DirectoryAgent | DirectoryBase | Registration

/** The services of one node, from its options; `extras` adds optional register fields (§5.2). */
export const nodeLayer = (options: NodeOptions, extras?: RegisterExtras): Layer.Layer<NodeServices, InvalidConfig> => {
  const settings = Layer.effect(NodeSettings, resolveNodeConfig(options))
  const base = Layer.mergeAll(Admission.layer, Idempotency.layer, NodeMetrics.layer, NodeLifecycle.layer, DirectoryAgent.layer, DirectoryBase.layer)
  return Registration.layer(extras).pipe(Layer.provideMerge(base), Layer.provideMerge(settings))
}

/** Options of {@link serveNode}. */
export interface ServeOptions extends ListenOptions {
  /**
   * The operator token clients must present (access `token`, §5.7); overrides the node's
   * `operatorToken`. Not the directory's `node_token`, which the node manages itself.
   */
  readonly nodeToken?: string
}

/** A serving node. */
export interface ServingNode {
  readonly url: string
  readonly port: number
  /** Stop admitting (503), finish in-flight tasks (bounded), deregister, close the listener. */
  readonly stop: Effect.Effect<void>
}

/**
 * Serves `handler` until `stop` or the enclosing scope closes. Fails with a {@link ListenError}
 * when the port cannot be bound, or {@link InvalidConfig} when the access mode lacks a token.
 */
export const serveNode = (
  handler: TaskHandler,
  options: ServeOptions = {}
): Effect.Effect<ServingNode, ListenError | InvalidConfig, NodeServices | Scope.Scope> =>
  Effect.gen(function* () {
    const config = yield* NodeSettings
    const operatorToken = options.nodeToken || config.operatorToken
    const access = yield* resolveAccess(config.access, operatorToken)
    if (access === "open") config.logger.warn("auth mode open: any client may submit tasks; set an operator token to require one")
    const auth = makeNodeAuthenticator({ ...config, access, operatorToken }, yield* DirectoryAgent, yield* DirectoryBase)
    const runner = yield* makeTaskRunner(handler).pipe(Effect.provideService(NodeAuth, auth))

    // The listener and registration live in their own scope so `stop` can end them before the node's scope closes.
    const parent = yield* Effect.scope
    const scope = yield* Scope.fork(parent, ExecutionStrategy.sequential)
    const bound = yield* listenNode(options).pipe(
      Effect.provideService(NodeAuth, auth),
      Effect.provideService(TaskRunner, runner),
      Scope.extend(scope)
    )
    const lifecycle = yield* NodeLifecycle
    if (hasHealthCheck(handler)) {
      // At once, then every interval on the node's clock, until the listener's scope ends.
      yield* handler.checkHealth.pipe(
        Effect.tap((reachable) => {
          if (reachable !== lifecycle.backendReachable()) config.logger.warn(reachable ? "backend reachable again" : "backend unreachable")
          return lifecycle.setBackendReachable(reachable)
        }),
        Effect.repeat(Schedule.spaced(Duration.millis(BACKEND_HEALTH_INTERVAL_MS))),
        Effect.forkIn(scope)
      )
    }
    const url = baseUrl(bound.host, bound.port)
    const registrar = yield* Registration
    if (config.directoryUrl !== undefined) yield* registrar.start(config.endpoint ?? url).pipe(Scope.extend(scope))
    config.logger.info("node serving", { node_id: config.nodeId, port: bound.port, auth_mode: access })

    const stop = Effect.gen(function* () {
      yield* lifecycle.startDraining
      yield* registrar.stop
      yield* Scope.close(scope, Exit.void)
      config.logger.info("node stopped", { node_id: config.nodeId })
    })
    return { url, port: bound.port, stop: yield* Effect.cached(stop) }
  })
