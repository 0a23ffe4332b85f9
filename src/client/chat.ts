/** Chat on top of submit (WIRE.md §4.5): the llm-chat-v1 payload out, the OpenAI shape back. */
import { Effect, Either, Schema } from "effect"
import { DEFAULT_QOS_CLASS } from "../constants.js"
import { CHAT_INTENT } from "../protocol/urn.js"
import { InvalidRequest, NodeRejected } from "../protocol/errors.js"
import { WireSchema } from "../protocol/index.js"
import type { ChatMessageInput, ChatOptions, ChatResponse, SubmitRequest, TaskResponse } from "./types.js"

const decodePayload = Schema.decodeUnknownEither(WireSchema.ChatPayload)
const decodeCompletion = Schema.decodeUnknownEither(WireSchema.ChatCompletion)

/** The submit request of a chat; the payload is checked against llm-chat-v1 before any I/O. */
export const chatRequest = (
  messages: ReadonlyArray<ChatMessageInput>,
  options: ChatOptions
): Effect.Effect<SubmitRequest, InvalidRequest> => {
  const payload = {
    messages,
    ...(options.model === undefined ? {} : { model: options.model }),
    ...(options.maxTokens === undefined ? {} : { max_tokens: options.maxTokens }),
    ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
    ...(options.stop === undefined ? {} : { stop: options.stop })
  }
  // The message says what is wrong without echoing message content back.
  if (Either.isLeft(decodePayload(payload))) {
    return Effect.fail(
      new InvalidRequest({
        message:
          "chat needs a non-empty messages array of {role: system|user|assistant|tool, content}, an integer maxTokens ≥ 1 and a temperature within [0, 2]"
      })
    )
  }
  return Effect.succeed({
    intent: CHAT_INTENT,
    payload,
    constraints: {
      qos: options.qos ?? DEFAULT_QOS_CLASS,
      ...(options.timeoutMs === undefined ? {} : { timeout_ms: options.timeoutMs }),
      ...(options.region === undefined ? {} : { region: options.region })
    }
  })
}

/** The OpenAI-shaped answer of a chat task, with §4.5's defaults; a result without choices is `backend_error`. */
export const toChatResponse = (task: TaskResponse, requestedModel: string | undefined): Effect.Effect<ChatResponse, NodeRejected> => {
  const completion = decodeCompletion(task.result)
  if (Either.isLeft(completion) || completion.right.choices.length === 0) {
    return Effect.fail(
      new NodeRejected({ nodeId: task.node_id, status: 502, code: "backend_error", message: `node ${task.node_id} answered a chat without choices` })
    )
  }
  const { choices, usage, model } = completion.right
  return Effect.succeed({
    id: task.task_id,
    choices: choices.map((choice) => ({
      index: choice.index,
      message: { role: choice.message.role, content: choice.message.content ?? "" },
      finish_reason: choice.finish_reason ?? "stop"
    })),
    usage: { prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens, total_tokens: usage.total_tokens },
    model: model ?? requestedModel ?? "",
    task_id: task.task_id,
    node_id: task.node_id
  })
}
