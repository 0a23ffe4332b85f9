/**
 * Effect `Schema` for the wire messages the client decodes (WIRE.md §4.2, §4.5): discovered nodes,
 * the llm-chat-v1 payload and the chat completion. Decoders are liberal where the contract says so
 * (defaults, extras kept).
 */
import { Schema } from "effect"

const Extras = Schema.Record({ key: Schema.String, value: Schema.Unknown })

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
