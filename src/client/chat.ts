/** Chat on top of submit (WIRE.md §4.5): the llm-chat-v1 payload out, the OpenAI shape back. */
import { Effect, Either, Schema } from "effect"
import { DEFAULT_QOS_CLASS } from "../constants.js"
import { CHAT_INTENT } from "../protocol/urn.js"
import { InvalidRequest, NodeRejected } from "../protocol/errors.js"
import { isRecord } from "../protocol/json.js"
import { WireSchema } from "../protocol/index.js"
import type { ChatChoice, ChatMessageInput, ChatOptions, ChatResponse, SubmitRequest, TaskResponse } from "./types.js"

const decodePayload = Schema.decodeUnknownEither(WireSchema.ChatPayload)

/** The submit request of a chat; the payload is checked against llm-chat-v1 before any I/O. */
export const chatRequest = (messages: ReadonlyArray<ChatMessageInput>, options: ChatOptions): SubmitRequest | InvalidRequest => {
  const payload = {
    messages,
    ...(options.model === undefined ? {} : { model: options.model }),
    ...(options.maxTokens === undefined ? {} : { max_tokens: options.maxTokens }),
    ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
    ...(options.stop === undefined ? {} : { stop: options.stop })
  }
  // The message says what is wrong without echoing message content back.
  if (Either.isLeft(decodePayload(payload))) {
    return new InvalidRequest({
      message:
        "chat needs a non-empty messages array of {role: system|user|assistant|tool, content}, an integer maxTokens ≥ 1 and a temperature within [0, 2]"
    })
  }
  return {
    intent: CHAT_INTENT,
    payload,
    constraints: {
      qos: options.qos ?? DEFAULT_QOS_CLASS,
      ...(options.timeoutMs === undefined ? {} : { timeout_ms: options.timeoutMs }),
      ...(options.region === undefined ? {} : { region: options.region })
    }
  }
}

type ObjectLike = Readonly<Record<string, unknown>>

// Struct schemas accept what `isRecord` does (non-null, non-array objects); an absent or `undefined` member is a missing one.
const isString = (value: unknown): value is string => typeof value === "string"
const isNumber = (value: unknown): value is number => typeof value === "number"
const isNullableString = (value: unknown): value is string | null => value === null || typeof value === "string"
const optional = (value: unknown, guard: (value: unknown) => boolean): boolean => value === undefined || guard(value)

/** The parts of a chat answer a completion gives, with §4.5's defaults applied. */
export type CompletionParts = Pick<ChatResponse, "choices" | "usage"> & { readonly model: string | undefined }

const readChoice = (choice: unknown): ChatChoice | undefined => {
  if (!isRecord(choice)) return undefined
  const { index, message, finish_reason: finishReason } = choice
  if (!optional(index, isNumber) || !optional(finishReason, isNullableString) || !optional(message, isRecord)) return undefined
  const role = (message as ObjectLike | undefined)?.["role"]
  const content = (message as ObjectLike | undefined)?.["content"]
  if (!optional(role, isString) || !optional(content, isNullableString)) return undefined
  return {
    index: (index as number | undefined) ?? 0,
    message: { role: (role as string | undefined) ?? "assistant", content: (content as string | null | undefined) ?? "" },
    finish_reason: (finishReason as string | null | undefined) ?? "stop"
  }
}

/**
 * Reads a task result as {@link WireSchema.ChatCompletion}: it accepts exactly what decoding with
 * that Schema accepts (a property test holds the two together) and applies the same defaults, by
 * hand, because the Schema decode costs more than the rest of a cached chat's client-side work.
 */
export const readCompletion = (result: unknown): CompletionParts | undefined => {
  if (!isRecord(result)) return undefined
  const { id, object, created, model, choices, usage } = result
  if (!optional(id, isString) || !optional(object, isString) || !optional(created, isNumber) || !optional(model, isString)) return undefined
  if (!Array.isArray(choices) || !optional(usage, isRecord)) return undefined
  const counts = (usage ?? {}) as ObjectLike
  const { prompt_tokens: prompt, completion_tokens: completion, total_tokens: total } = counts
  if (!optional(prompt, isNumber) || !optional(completion, isNumber) || !optional(total, isNumber)) return undefined
  const read: Array<ChatChoice> = []
  for (const choice of choices) {
    const one = readChoice(choice)
    if (one === undefined) return undefined
    read.push(one)
  }
  return {
    choices: read,
    usage: { prompt_tokens: (prompt as number | undefined) ?? 0, completion_tokens: (completion as number | undefined) ?? 0, total_tokens: (total as number | undefined) ?? 0 },
    model: model as string | undefined
  }
}

/** The OpenAI-shaped answer of a chat task, with §4.5's defaults; a result without choices is `backend_error`. */
export const toChatResponse = (task: TaskResponse, requestedModel: string | undefined): Effect.Effect<ChatResponse, NodeRejected> => {
  const completion = readCompletion(task.result)
  if (completion === undefined || completion.choices.length === 0) {
    return Effect.fail(
      new NodeRejected({ nodeId: task.node_id, status: 502, code: "backend_error", message: `node ${task.node_id} answered a chat without choices` })
    )
  }
  return Effect.succeed({
    id: task.task_id,
    choices: completion.choices,
    usage: completion.usage,
    model: completion.model ?? requestedModel ?? "",
    task_id: task.task_id,
    node_id: task.node_id
  })
}
