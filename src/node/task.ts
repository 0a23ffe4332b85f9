/**
 * What a node's handler sees and returns (WIRE.md §5.9), and the errors it may throw.
 */
import { Effect } from "effect"

/** QoS classes in priority order (§5.8). */
export type QosClass = "realtime" | "interactive" | "batch" | "best-effort"

/** Priority of each class: lower is served first. */
export const QOS_PRIORITY: Readonly<Record<QosClass, number>> = { realtime: 0, interactive: 1, batch: 2, "best-effort": 3 }

/** The task as a handler receives it: `auth` and `nonce` removed, `_trace` set from the request headers. */
export interface NodeTask {
  readonly task_id: string
  readonly intent: string
  readonly payload: Readonly<Record<string, unknown>>
  /** Always present for the handler: `timeout_ms` and the normalised `qos` are filled in. */
  readonly constraints: Readonly<Record<string, unknown>> & { readonly timeout_ms: number; readonly qos: QosClass }
  readonly _trace?: { readonly traceparent?: string; readonly tracestate?: string }
  readonly source_node_id?: string
  readonly [member: string]: unknown
}

/** The second argument of a handler. */
export interface HandlerContext {
  /** Fires when the task's deadline passes or the task is cancelled; stop work and settle. */
  readonly signal: AbortSignal
  /**
   * When the deadline passes, in ms on the node's Effect clock: epoch milliseconds in production,
   * but a TestClock's time under test. Compare it only with that clock; for a budget use `remainingMs`.
   */
  readonly deadline: number
  /** Milliseconds left until the deadline (never negative), read from the node's clock: the timeout a backend call may use. */
  readonly remainingMs: () => number
}

/**
 * A task handler: returns the result object itself (for chat an OpenAI chat completion), which
 * becomes `result`; fails by throwing, optionally a {@link TaskFailure} or any `{code, message, status}`.
 */
export type TaskHandler = (task: NodeTask, context: HandlerContext) => unknown

/**
 * A handler that can also tell whether its backend is reachable. The node runs `checkHealth` at
 * start and then periodically, and reports `degraded` in `/iicp/health` while it yields false (§5.11).
 */
export interface HealthCheckedHandler extends TaskHandler {
  readonly checkHealth: Effect.Effect<boolean>
}

/** Whether a handler carries a backend health check. */
export const hasHealthCheck = (handler: TaskHandler): handler is HealthCheckedHandler =>
  Effect.isEffect((handler as Partial<HealthCheckedHandler>).checkHealth)

/**
 * An error a handler or backend throws to choose the answer (§5.9): `status` 408/504 → 504,
 * 429 → 429, 400/404/422 → 422, anything else → 502 `backend_error`.
 */
export class TaskFailure extends Error {
  override readonly name = "TaskFailure"
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string
  ) {
    super(message)
  }
}
