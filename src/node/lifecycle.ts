/** Whether the node still admits tasks: set once `stop` begins (WIRE.md §5.1 step 5). */
import { Context, Effect, Layer } from "effect"

/** The node's shutdown flag. */
export interface NodeLifecycleState {
  readonly isDraining: Effect.Effect<boolean>
  /** The same flag read synchronously, for plain-code hot paths. */
  readonly draining: () => boolean
  /** From now on new tasks get 503 `unavailable`. */
  readonly startDraining: Effect.Effect<void>
}

/** The shutdown flag as an Effect service. */
export class NodeLifecycle extends Context.Tag("iicp/NodeLifecycle")<NodeLifecycle, NodeLifecycleState>() {
  static readonly layer: Layer.Layer<NodeLifecycle> = Layer.sync(NodeLifecycle, () => {
    let draining = false
    return {
      isDraining: Effect.sync(() => draining),
      draining: () => draining,
      startDraining: Effect.sync(() => {
        draining = true
      })
    }
  })
}
