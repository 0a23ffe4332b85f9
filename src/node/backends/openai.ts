/**
 * The OpenAI-compatible backend (WIRE.md §5.9): Ollama, vLLM, llama.cpp and anything speaking
 * `/chat/completions`, `/completions`, `/embeddings`. The answer becomes `result` verbatim; upstream
 * failures are thrown as {@link TaskFailure} for the node to map.
 */
import { Effect, Runtime } from "effect"
import { getGlobalDispatcher } from "undici"
import type { Dispatcher } from "undici"
import { BACKEND_HEALTH_TIMEOUT_MS } from "../../constants.js"
import { nonEmptyString } from "../../protocol/json.js"
import { httpJson } from "../../runtime/http-client.js"
import { promiseRunner } from "../promise-runner.js"
import type { HealthCheckedHandler, NodeTask, TaskHandler } from "../task.js"
import { TaskFailure } from "../task.js"

/** Backend flavours and their default base URLs. */
export const OPENAI_BACKEND_BASE_URLS = {
  openai_compat: "http://localhost:11434/v1",
  vllm: "http://localhost:8000/v1",
  llamacpp: "http://localhost:8080/v1"
} as const

/** A backend flavour. */
export type OpenAiBackendType = keyof typeof OPENAI_BACKEND_BASE_URLS

/** The intents an OpenAI-compatible backend serves, with the path each calls. */
export const OPENAI_BACKEND_PATHS: Readonly<Record<string, string>> = {
  "urn:iicp:intent:llm:chat:v1": "/chat/completions",
  "urn:iicp:intent:llm:completion:v1": "/completions",
  "urn:iicp:intent:llm:embedding:v1": "/embeddings"
}

/** Options of {@link openAiBackend}. */
export interface OpenAiBackendOptions {
  /** Flavour, selecting the default base URL; default `openai_compat` (Ollama). */
  readonly type?: OpenAiBackendType
  /** Base URL including `/v1`; overrides the flavour's default. */
  readonly baseUrl?: string
  /** Sent as `Authorization: Bearer`; never logged. */
  readonly apiKey?: string
  /** Model used when neither the payload nor the constraints name one. */
  readonly model?: string
  /** Connection pool; default undici's global one. */
  readonly dispatcher?: Dispatcher
}

/** The backend request body: a copy of the payload with model, max_tokens and stream filled in. */
export const backendRequestBody = (task: NodeTask, defaultModel: string | undefined): Record<string, unknown> => {
  const model = nonEmptyString(task.payload["model"]) ?? nonEmptyString(task.constraints["model"]) ?? defaultModel
  if (model === undefined) throw new TaskFailure(422, "no model configured", "validation_error")
  const isEmbedding = task.intent === "urn:iicp:intent:llm:embedding:v1"
  const maxTokens = task.constraints["max_tokens"]
  return {
    ...task.payload,
    model,
    ...(!isEmbedding && task.payload["max_tokens"] === undefined && typeof maxTokens === "number" ? { max_tokens: maxTokens } : {}),
    ...(isEmbedding ? {} : { stream: false })
  }
}

/**
 * A handler forwarding tasks to an OpenAI-compatible server, bounded by the task's remaining budget.
 * Its `checkHealth` asks `GET {base}/models`: any HTTP answer below 500 counts as reachable.
 */
export const openAiBackend = (options: OpenAiBackendOptions = {}): HealthCheckedHandler => {
  const base = (options.baseUrl ?? OPENAI_BACKEND_BASE_URLS[options.type ?? "openai_compat"]).replace(/\/+$/, "")
  const dispatcher = options.dispatcher ?? getGlobalDispatcher()
  const authorization: Record<string, string> = options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}
  const checkHealth = httpJson(dispatcher, { method: "GET", url: `${base}/models`, headers: authorization, timeoutMs: BACKEND_HEALTH_TIMEOUT_MS }).pipe(
    Effect.match({ onFailure: () => false, onSuccess: (res) => res.status < 500 })
  )
  // The call runs on its own (live) runtime; failures reject as the TaskFailure itself, for the node to map.
  const run = promiseRunner(Runtime.defaultRuntime)
  const handler: TaskHandler = async (task, { signal, remainingMs }) => {
    const path = OPENAI_BACKEND_PATHS[task.intent]
    if (path === undefined) throw new TaskFailure(404, "intent not served by this backend", "unknown_intent")
    const body = backendRequestBody(task, options.model)
    const traceparent = task._trace?.traceparent
    const headers: Record<string, string> = { ...authorization, ...(traceparent ? { traceparent } : {}) }
    const call = httpJson(dispatcher, { method: "POST", url: `${base}${path}`, headers, body, timeoutMs: Math.max(1, remainingMs()) }).pipe(
      Effect.catchTag("HttpFailure", (failure) =>
        Effect.fail(failure.reason === "timeout" ? new TaskFailure(504, "backend timed out") : new TaskFailure(502, "backend unreachable"))
      ),
      Effect.flatMap((res) => {
        if (res.status >= 400) return Effect.fail(new TaskFailure(res.status, `backend returned ${res.status}`))
        if (typeof res.body !== "object" || res.body === null) return Effect.fail(new TaskFailure(502, "backend answered without JSON"))
        return Effect.succeed(res.body)
      })
    )
    return run(call, signal)
  }
  return Object.assign(handler, { checkHealth })
}
