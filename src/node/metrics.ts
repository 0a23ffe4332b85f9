/**
 * Task metrics in the Prometheus text format 0.0.4 (WIRE.md §5.12).
 */
import { Context, Effect, Layer } from "effect"
import { TASK_LATENCY_BUCKETS_MS } from "../constants.js"
import type { QosClass } from "./task.js"

/** Terminal task status as counted. */
export type TaskStatus = "success" | "error" | "timeout"

/** One finished task, as recorded. */
export interface TaskObservation {
  readonly status: TaskStatus
  readonly intent: string
  readonly qos: QosClass
  readonly latencyMs: number
  readonly tokensUsed: number
}

/** The node's metrics registry. */
export interface NodeMetricsRegistry {
  /** Counts one finished task (synchronous: the task runner's hot path is plain code). */
  readonly record: (observation: TaskObservation) => void
  /** The exposition text. */
  readonly render: Effect.Effect<string>
}

/** The registry as an Effect service. */
export class NodeMetrics extends Context.Tag("iicp-mesh/NodeMetrics")<NodeMetrics, NodeMetricsRegistry>() {
  static readonly layer: Layer.Layer<NodeMetrics> = Layer.sync(NodeMetrics, () => makeNodeMetrics())
}

const escapeLabel = (value: string): string => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')

const labels = (pairs: Readonly<Record<string, string>>): string =>
  `{${Object.entries(pairs)
    .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
    .join(",")}}`

interface Histogram {
  readonly buckets: Array<number>
  sum: number
  count: number
}

/** A fresh registry. */
export const makeNodeMetrics = (): NodeMetricsRegistry => {
  const tasks = new Map<string, { readonly labels: string; value: number }>()
  const latency = new Map<string, { readonly labels: Readonly<Record<string, string>>; readonly histogram: Histogram }>()
  const tokens = new Map<string, { readonly labels: string; value: number }>()

  const bump = (map: Map<string, { readonly labels: string; value: number }>, key: string, by: number) => {
    const series = map.get(key)
    if (series) series.value += by
    else map.set(key, { labels: key, value: by })
  }

  // Label sets are few (status × intent × qos): each is rendered once, keyed by its values.
  const rendered = new Map<string, string>()
  const labelsOnce = (key: string, pairs: () => Readonly<Record<string, string>>): string => {
    let text = rendered.get(key)
    if (text === undefined) {
      text = labels(pairs())
      rendered.set(key, text)
    }
    return text
  }

  const record = (o: TaskObservation) => {
    bump(tasks, labelsOnce(`t\u0000${o.status}\u0000${o.intent}\u0000${o.qos}`, () => ({ status: o.status, intent: o.intent, qos: o.qos })), 1)
    bump(tokens, labelsOnce(`i\u0000${o.intent}`, () => ({ intent: o.intent })), o.tokensUsed)
    const key = labelsOnce(`l\u0000${o.intent}\u0000${o.qos}`, () => ({ intent: o.intent, qos: o.qos }))
    let series = latency.get(key)
    if (!series) {
      series = { labels: { intent: o.intent, qos: o.qos }, histogram: { buckets: TASK_LATENCY_BUCKETS_MS.map(() => 0), sum: 0, count: 0 } }
      latency.set(key, series)
    }
    const h = series.histogram
    for (let i = 0; i < TASK_LATENCY_BUCKETS_MS.length; i++) if (o.latencyMs <= TASK_LATENCY_BUCKETS_MS[i]!) h.buckets[i]! += 1
    h.sum += o.latencyMs
    h.count += 1
  }

  return {
    record,
    render: Effect.sync(() => {
      const lines: Array<string> = [
        "# HELP iicp_tasks_total Tasks finished, by terminal status.",
        "# TYPE iicp_tasks_total counter",
        ...[...tasks.values()].map((s) => `iicp_tasks_total${s.labels} ${s.value}`),
        "# HELP iicp_task_latency_ms Task latency in milliseconds.",
        "# TYPE iicp_task_latency_ms histogram"
      ]
      for (const { labels: base, histogram } of latency.values()) {
        TASK_LATENCY_BUCKETS_MS.forEach((bound, i) => {
          lines.push(`iicp_task_latency_ms_bucket${labels({ ...base, le: String(bound) })} ${histogram.buckets[i]}`)
        })
        lines.push(`iicp_task_latency_ms_bucket${labels({ ...base, le: "+Inf" })} ${histogram.count}`)
        lines.push(`iicp_task_latency_ms_sum${labels(base)} ${histogram.sum}`)
        lines.push(`iicp_task_latency_ms_count${labels(base)} ${histogram.count}`)
      }
      lines.push(
        "# HELP iicp_tokens_used_total Tokens used by finished tasks.",
        "# TYPE iicp_tokens_used_total counter",
        ...[...tokens.values()].map((s) => `iicp_tokens_used_total${s.labels} ${s.value}`)
      )
      return lines.join("\n") + "\n"
    })
  }
}
