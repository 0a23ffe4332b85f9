/**
 * The client's Promise API: a thin wrapper running the Effect implementation ({@link IicpClientService})
 * on a managed runtime. Every failure is an {@link IicpError} with tokens scrubbed (SDK-ERR-01, SDK-06).
 *
 * ```ts
 * const client = new IicpClient({ directoryUrl: "https://iicp.network/api" })
 * const chat = await client.chat([{ role: "user", content: "hi" }])
 * console.log(chat.choices[0]?.message.content)
 * await client.close()
 * ```
 */
import { Cause, Effect, Either, Exit, ManagedRuntime, Option } from "effect"
import { IicpError, toIicpError } from "../protocol/errors.js"
import type { MeshError } from "../protocol/errors.js"
import type { IicpClientConfig } from "./config.js"
import { resolveClientConfig } from "./config.js"
import { clientLayer, IicpClientService } from "./service.js"
import type { IicpClientApi } from "./service.js"
import type { ChatMessageInput, ChatOptions, ChatResponse, DiscoverOptions, DiscoverResult, SubmitOptions, SubmitRequest, TaskResponse } from "./types.js"

export type { IicpClientConfig, ConsumerAuthMode } from "./config.js"
export type * from "./types.js"

/** An IICP client: discover → select → submit with retries, failover and one keep-alive pool. */
export class IicpClient {
  readonly #runtime: ManagedRuntime.ManagedRuntime<IicpClientService, never>
  readonly #secrets: ReadonlyArray<string>
  #closed = false

  /**
   * Validates `config` at once: a bad value (e.g. `timeoutMs > 120000`, `tlsVerify: false` without
   * `IICP_ALLOW_INSECURE_TLS=1`, `maxRetries` outside 1–3) throws an `IicpError` `invalid_config`.
   */
  constructor(config: IicpClientConfig = {}) {
    const secrets = [config.operatorToken, config.nodeToken].filter((s): s is string => typeof s === "string" && s.length > 0)
    const resolved = Effect.runSync(Effect.either(resolveClientConfig(config)))
    if (Either.isLeft(resolved)) throw toIicpError(resolved.left, secrets)
    this.#secrets = resolved.right.secrets
    this.#runtime = ManagedRuntime.make(clientLayer(resolved.right))
  }

  /** Nodes serving `intent`, in the directory's order: `{ nodes, count, queryMs }` (§4.2). */
  discover(intent: string, options: DiscoverOptions = {}): Promise<DiscoverResult> {
    return this.#run((client) => client.discover(intent, options))
  }

  /**
   * Runs a task (§4.3, §4.4): validates the intent before any I/O, discovers (unless `options.node`
   * names the node), then makes up to `maxRetries` attempts across candidates within the task
   * deadline. Aborting `options.signal` aborts the in-flight request and rejects with `cancelled`.
   */
  submit(request: SubmitRequest, options: SubmitOptions = {}): Promise<TaskResponse> {
    return this.#run((client) => client.submit(request, options))
  }

  /** Runs an llm-chat-v1 task; `choices[0].message.content` holds the answer (§4.5, SDK-02). */
  chat(messages: ReadonlyArray<ChatMessageInput>, options: ChatOptions = {}): Promise<ChatResponse> {
    return this.#run((client) => client.chat(messages, options))
  }

  /** Closes the connection pool; calls after this reject with `cancelled`. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#runtime.dispose()
  }

  async #run<A>(body: (client: IicpClientApi) => Effect.Effect<A, MeshError>): Promise<A> {
    if (this.#closed) throw new IicpError({ code: "cancelled", message: "client is closed", retryable: false })
    const exit = await this.#runtime.runPromiseExit(Effect.flatMap(IicpClientService, body))
    if (Exit.isSuccess(exit)) return exit.value
    const failure = Cause.failureOption(exit.cause)
    if (Option.isSome(failure)) throw toIicpError(failure.value, this.#secrets)
    if (Cause.isInterruptedOnly(exit.cause)) throw new IicpError({ code: "cancelled", message: "task interrupted", retryable: false })
    // A defect: never let the raw exception (or anything it carries) out.
    throw new IicpError({ code: "internal_error", message: "internal client error", retryable: false })
  }
}
