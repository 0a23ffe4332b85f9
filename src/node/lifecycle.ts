/**
 * The node's condition: whether it still admits tasks (draining once `stop` begins, WIRE.md §5.1
 * step 5) and whether its backend last answered a health check (§5.11 `degraded`).
 */
import { Context, Effect, Layer } from "effect"

/** The node's shutdown flag. */
export interface NodeLifecycleState {
  readonly isDraining: Effect.Effect<boolean>
  /** The same flag read synchronously, for plain-code hot paths. */
  readonly draining: () => boolean
  /** From now on new tasks get 503 `unavailable`. */
  readonly startDraining: Effect.Effect<void>
  /** Whether the backend answered its last health check (true until a check says otherwise). */
  readonly backendReachable: () => boolean
  readonly setBackendReachable: (reachable: boolean) => Effect.Effect<void>
}

/** The node's condition as an Effect service. */
export class NodeLifecycle extends Context.Tag("iicp-mesh/NodeLifecycle")<NodeLifecycle, NodeLifecycleState>() {
  static readonly layer: Layer.Layer<NodeLifecycle> = Layer.sync(NodeLifecycle, () => {
    let draining = false
    let backendReachable = true
    return {
      isDraining: Effect.sync(() => draining),
      draining: () => draining,
      startDraining: Effect.sync(() => {
        draining = true
      }),
      backendReachable: () => backendReachable,
      setBackendReachable: (reachable) =>
        Effect.sync(() => {
          backendReachable = reachable
        })
    }
  })
}
