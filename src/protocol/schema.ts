/**
 * Effect `Schema` for every wire message the client and node touch (WIRE.md §4, §5).
 * Decoders are liberal where the contract says so (defaults, extras kept); encoders emit the spec shape.
 */
import { Schema } from "effect"

const Extras = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/** QoS classes (§5.8); `best_effort` is read as `best-effort`. */
export const QosClass = Schema.Literal("realtime", "interactive", "batch", "best-effort")
export type QosClass = typeof QosClass.Type

/** One node of a discover answer (§4.2): defaults for `score`, `available`, `region`; unknown members kept. */
export const DiscoveredNode = Schema.Struct(
  {
    node_id: Schema.String,
    endpoint: Schema.String.pipe(Schema.filter((s) => /^https?:\/\//i.test(s), { message: () => "endpoint must be http(s)" })),
    score: Schema.optionalWith(Schema.Number, { default: () => 0 }),
    available: Schema.optionalWith(Schema.Boolean, { default: () => true }),
    region: Schema.optionalWith(Schema.String, { default: () => "" }),
    transport_method: Schema.optional(Schema.String)
  },
  Extras
)
export type DiscoveredNode = typeof DiscoveredNode.Type

/** The directory's discover answer; entries are decoded one by one so a bad entry drops alone. */
export const DiscoverResponse = Schema.Struct({
  nodes: Schema.Array(Schema.Unknown),
  count: Schema.optional(Schema.Number),
  query_ms: Schema.optional(Schema.Number)
})

/** Task constraints (§4.4, §5.5). */
export const TaskConstraints = Schema.Struct(
  {
    timeout_ms: Schema.optional(Schema.Number),
    qos: Schema.optional(Schema.String),
    qos_class: Schema.optional(Schema.String),
    region: Schema.optional(Schema.String),
    model: Schema.optional(Schema.String),
    max_tokens: Schema.optional(Schema.Number)
  },
  Extras
)
export type TaskConstraints = typeof TaskConstraints.Type

/** The task request body (`POST /v1/task`). */
export const TaskRequest = Schema.Struct(
  {
    task_id: Schema.String,
    intent: Schema.String,
    payload: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
    constraints: Schema.optional(TaskConstraints),
    auth: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
    nonce: Schema.optional(Schema.String),
    _trace: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
  },
  Extras
)
export type TaskRequest = typeof TaskRequest.Type

/** Task metrics as a node reports them. */
export const TaskMetrics = Schema.Struct({
  latency_ms: Schema.optional(Schema.Number),
  tokens_used: Schema.optional(Schema.Number)
})

/** A 2xx task response (§5.5). `completed` (reference node) is accepted beside `success`. */
export const TaskResponseBody = Schema.Struct(
  {
    task_id: Schema.optional(Schema.String),
    status: Schema.optional(Schema.String),
    result: Schema.optional(Schema.Unknown),
    metrics: Schema.optional(TaskMetrics),
    model_used: Schema.optional(Schema.String),
    error: Schema.optional(Schema.Unknown),
    error_code: Schema.optional(Schema.Unknown)
  },
  Extras
)

/** A chat message of the llm-chat-v1 payload. */
export const ChatMessage = Schema.Struct(
  {
    role: Schema.Literal("system", "user", "assistant", "tool"),
    content: Schema.Unknown
  },
  Extras
)
export type ChatMessage = typeof ChatMessage.Type

/** The llm-chat-v1 payload (§4.5). */
export const ChatPayload = Schema.Struct({
  messages: Schema.NonEmptyArray(ChatMessage),
  model: Schema.optional(Schema.String),
  max_tokens: Schema.optional(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1))),
  temperature: Schema.optional(Schema.Number.pipe(Schema.between(0, 2))),
  stop: Schema.optional(Schema.Array(Schema.String))
})
export type ChatPayload = typeof ChatPayload.Type

/** One choice of an OpenAI chat completion, with §4.5's defaults. */
export const ChatChoice = Schema.Struct({
  index: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  message: Schema.optionalWith(
    Schema.Struct(
      {
        role: Schema.optionalWith(Schema.String, { default: () => "assistant" }),
        content: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => "" })
      },
      Extras
    ),
    { default: () => ({ role: "assistant", content: "" }) }
  ),
  finish_reason: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => "stop" })
})
export type ChatChoice = typeof ChatChoice.Type

/** Token usage with counts defaulting to 0. */
export const ChatUsage = Schema.Struct({
  prompt_tokens: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  completion_tokens: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  total_tokens: Schema.optionalWith(Schema.Number, { default: () => 0 })
})
export type ChatUsage = typeof ChatUsage.Type

/** An OpenAI Chat Completions object as a node returns it in `result`. */
export const ChatCompletion = Schema.Struct(
  {
    id: Schema.optional(Schema.String),
    object: Schema.optional(Schema.String),
    created: Schema.optional(Schema.Number),
    model: Schema.optional(Schema.String),
    choices: Schema.Array(ChatChoice),
    usage: Schema.optionalWith(ChatUsage, { default: () => ({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 }) })
  },
  Extras
)
export type ChatCompletion = typeof ChatCompletion.Type
