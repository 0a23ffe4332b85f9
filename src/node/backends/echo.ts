/**
 * The echo backend: a demo and test handler that answers every chat with the last user message,
 * as a valid OpenAI chat completion from model "echo". It calls nothing.
 */
import { randomUUID } from "node:crypto"
import { ECHO_MODEL } from "../../constants.js"
import type { NodeTask, TaskHandler } from "../task.js"

const textOf = (content: unknown): string => {
  if (typeof content === "string") return content
  // OpenAI content parts: keep the text ones.
  if (Array.isArray(content)) {
    return content
      .map((part) => (typeof part === "object" && part !== null && typeof (part as { text?: unknown }).text === "string" ? (part as { text: string }).text : ""))
      .join("")
  }
  return ""
}

const lastUserMessage = (task: NodeTask): string => {
  const messages = task.payload["messages"]
  if (!Array.isArray(messages)) return typeof task.payload["prompt"] === "string" ? task.payload["prompt"] : ""
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i] as { role?: unknown; content?: unknown } | null
    if (message?.role === "user") return textOf(message.content)
  }
  return ""
}

/** Whitespace-separated words: the echo backend's stand-in for tokens. */
const countWords = (text: string): number => (text.trim() === "" ? 0 : text.trim().split(/\s+/).length)

/** A handler echoing the last user message as an OpenAI chat completion (model "echo"). */
export const echoBackend = (): TaskHandler => (task) => {
  const text = lastUserMessage(task)
  const tokens = countWords(text)
  return {
    id: `chatcmpl-${randomUUID()}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: ECHO_MODEL,
    choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
    usage: { prompt_tokens: tokens, completion_tokens: tokens, total_tokens: tokens * 2 }
  }
}
