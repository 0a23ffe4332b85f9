/** Public request and response shapes of the client (WIRE.md §4.2, §4.4, §4.5). */
import type { WireSchema } from "../protocol/index.js"

/** Filters of a discover query (§4.2); `region` defaults to the client's. */
export interface DiscoverOptions {
  readonly region?: string
  readonly model?: string
  readonly minReputation?: number
  /** Most nodes returned, 1–50; default 10. */
  readonly limit?: number
  readonly qos?: string
}

/** A discover answer: at most `limit` usable nodes in the directory's order, scores untouched. */
export interface DiscoverResult {
  readonly nodes: ReadonlyArray<WireSchema.DiscoveredNode>
  /** The directory's `count` when it sent one, else the number of nodes. */
  readonly count: number
  /** The directory's `query_ms` when it sent one, else the measured round trip. */
  readonly queryMs: number
}

/** Task constraints the caller may set (§4.3, §4.4). */
export interface SubmitConstraints {
  /** Integer 100–120000 ms; default the client's `timeoutMs`. */
  readonly timeout_ms?: number
  /** QoS class; default `interactive`. */
  readonly qos?: string
  /** Sent as `constraints.region` and used as the discover region. */
  readonly region?: string
  readonly [extra: string]: unknown
}

/** What to run: an intent URN and its payload. */
export interface SubmitRequest {
  readonly intent: string
  readonly payload: Readonly<Record<string, unknown>>
  readonly constraints?: SubmitConstraints
}

/** A node to send a task to directly, skipping discovery (e.g. one from `discover`). */
export interface NodeTarget {
  readonly node_id: string
  readonly endpoint: string
  readonly transport_method?: string | undefined
}

/** Per-call options of `submit`. */
export interface SubmitOptions {
  /** Send to this node only (no discovery); an endpoint URL string stands for a node of that id. */
  readonly node?: NodeTarget | string
  /** Aborting cancels the task: the in-flight request is aborted and the call fails with `cancelled`. */
  readonly signal?: AbortSignal
  /** Discover filters (region, model, …). */
  readonly discover?: DiscoverOptions
}

/** A successful task (§4.4). */
export interface TaskResponse {
  readonly task_id: string
  /** `success` (or `completed` from the reference node). */
  readonly status: string
  /** `body.result`, or the whole body when `result` is absent and `choices` is top-level. */
  readonly result: unknown
  /** The node that answered. */
  readonly node_id: string
  readonly model_used?: string
  readonly metrics: {
    /** Round trip of the successful attempt, measured by the client. */
    readonly latency_ms: number
    readonly tokens_used: number
  }
  /** Attempts made, the successful one included. */
  readonly attempts: number
}

/** A chat message (llm-chat-v1). */
export interface ChatMessageInput {
  readonly role: "system" | "user" | "assistant" | "tool"
  readonly content: string
  readonly [extra: string]: unknown
}

/** Options of `chat` (§4.5). */
export interface ChatOptions {
  readonly model?: string
  readonly maxTokens?: number
  readonly temperature?: number
  readonly stop?: ReadonlyArray<string>
  /** Per-task timeout in ms (100–120000); default the client's. */
  readonly timeoutMs?: number
  /** QoS class; default `interactive`. */
  readonly qos?: string
  readonly region?: string
  readonly node?: NodeTarget | string
  readonly signal?: AbortSignal
}

/** One choice of a chat answer, with §4.5's defaults applied. */
export interface ChatChoice {
  readonly index: number
  readonly message: { readonly role: string; readonly content: string }
  readonly finish_reason: string
}

/** The OpenAI-shaped chat answer (§4.5, SDK-02). `id` is the task id. */
export interface ChatResponse {
  readonly id: string
  readonly choices: ReadonlyArray<ChatChoice>
  readonly usage: { readonly prompt_tokens: number; readonly completion_tokens: number; readonly total_tokens: number }
  readonly model: string
  readonly task_id: string
  readonly node_id: string
}
