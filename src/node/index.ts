/**
 * The provider node, Promise API. `IicpNode` serves a task handler over HTTP (WIRE.md §5), and
 * registers and heartbeats with a directory when one is configured. The same implementation is
 * available as Effect services from `iicp-mesh/effect`.
 */
import { Cause, Effect, Exit, ManagedRuntime, Scope } from "effect"
import { ECHO_MODEL } from "../constants.js"
import { IicpError, InvalidConfig, toIicpError } from "../protocol/errors.js"
import type { MeshError } from "../protocol/errors.js"
import { ListenError } from "../runtime/http-server.js"
import { echoBackend } from "./backends/echo.js"
import { OPENAI_BACKEND_PATHS, openAiBackend } from "./backends/openai.js"
import type { OpenAiBackendType } from "./backends/openai.js"
import { resolveNodeConfig } from "./config.js"
import type { NodeOptions } from "./config.js"
import type { RegisterExtras } from "./directory-client.js"
import { Registration } from "./registration.js"
import type { RegistrationState } from "./registration.js"
import { nodeLayer, serveNode } from "./serve.js"
import type { NodeServices, ServeOptions } from "./serve.js"
import type { TaskHandler } from "./task.js"

export type { AccessMode, AvailabilityWindow, NodeOptions } from "./config.js"
export type { HandlerContext, HealthCheckedHandler, NodeTask, QosClass, TaskHandler } from "./task.js"
export { TaskFailure } from "./task.js"
export type { ServeOptions } from "./serve.js"
export type { RegisterExtras } from "./directory-client.js"
export type { RegistrationState } from "./registration.js"
export { ListenError } from "../runtime/http-server.js"
export * from "./backends/index.js"

/** A listening node. */
export interface NodeServer {
  /** The URL the listener is reached at (`http://host:port`). */
  readonly url: string
  readonly port: number
  /** Stop admitting (503 + Retry-After: 5), finish in-flight tasks (≤ drain timeout), deregister, close. */
  readonly stop: () => Promise<void>
}

/** Options of {@link IicpNode}: {@link NodeOptions} plus the register extension point. */
export interface IicpNodeOptions extends NodeOptions {
  /** Optional register fields (transport tier, relay, pricing), read at every register. */
  readonly registerExtras?: RegisterExtras
}

const isMeshError = (error: unknown): error is MeshError => typeof error === "object" && error !== null && "_tag" in error

/** The Promise API's error for a failed effect: mesh errors become {@link IicpError}, a ListenError stays itself. */
const publicError = (cause: Cause.Cause<unknown>): Error => {
  const failure = Cause.squash(cause)
  if (failure instanceof ListenError || failure instanceof IicpError) return failure
  if (isMeshError(failure)) return toIicpError(failure)
  return new IicpError({ code: "internal_error", message: "unexpected node failure", component: "node", cause: failure })
}

const settle = <A>(exit: Exit.Exit<A, unknown>): A => {
  if (Exit.isSuccess(exit)) return exit.value
  throw publicError(exit.cause)
}

/**
 * A provider node.
 *
 * ```ts
 * const node = new IicpNode({ intent: "urn:iicp:intent:llm:chat:v1", model: "echo", directoryUrl })
 * const server = await node.serve(echoBackend(), { port: 8020, nodeToken: "operator-secret" })
 * // …
 * await server.stop()
 * ```
 *
 * `serve` listens first, then registers and heartbeats when `directoryUrl` is set. `nodeToken` in
 * the serve options is the operator token clients must present (access mode `token`); the
 * directory's own `node_token` is handled internally. A node serves once: `stop` releases it.
 */
export class IicpNode {
  readonly nodeId: string
  private readonly runtime: ManagedRuntime.ManagedRuntime<NodeServices, InvalidConfig>
  private readonly endpoint: string | undefined
  private serving: NodeServer | undefined
  private released: RegistrationState | undefined

  /** Validates `options` at once; a bad value throws an {@link IicpError} `invalid_config`. */
  constructor(options: IicpNodeOptions) {
    const config = Effect.runSync(Effect.either(resolveNodeConfig(options)))
    if (config._tag === "Left") throw toIicpError(config.left)
    const { registerExtras, ...rest } = options
    // Pin the generated id so every service sees the same one.
    this.runtime = ManagedRuntime.make(nodeLayer({ ...rest, nodeId: config.right.nodeId }, registerExtras))
    this.nodeId = config.right.nodeId
    this.endpoint = config.right.endpoint
  }

  /** The source address the directory saw on the last register (§6.12), once registered. */
  get observedSourceIp(): string | undefined {
    return this.registration().observedSourceIp
  }

  /** The current directory `node_token`, once registered. Treat as a secret. */
  get nodeToken(): string | undefined {
    return this.registration().nodeToken
  }

  /** Registration as it stands (or stood when the node was released). */
  registration(): RegistrationState {
    return this.released ?? this.runtime.runSync(Effect.flatMap(Registration, (r) => r.state))
  }

  /** Closes the runtime, keeping the last registration state readable. */
  private async release(): Promise<void> {
    this.released ??= this.registration()
    await this.runtime.dispose()
  }

  /**
   * Registers once with the directory (§5.2) and resolves with the `node_token`. Needs `endpoint`
   * (or a running `serve`, whose URL is used). `serve` registers by itself; calling both reuses this token.
   */
  async register(): Promise<string> {
    const endpoint = this.endpoint ?? this.serving?.url
    if (endpoint === undefined) {
      throw toIicpError(new InvalidConfig({ field: "endpoint", message: "register needs an endpoint (or call serve first)" }))
    }
    const exit = await this.runtime.runPromiseExit(Effect.flatMap(Registration, (r) => r.register(endpoint)))
    return settle(exit).nodeToken
  }

  /**
   * Serves `handler` on `port` (default 8020, 0 = ephemeral). Rejects with a {@link ListenError} when
   * the port cannot be bound, or an {@link IicpError} `invalid_config`.
   */
  async serve(handler: TaskHandler, options: ServeOptions = {}): Promise<NodeServer> {
    if (this.serving) throw toIicpError(new InvalidConfig({ field: "serve", message: "this node is already serving" }))
    const scope = await this.runtime.runPromise(Scope.make())
    const exit = await this.runtime.runPromiseExit(serveNode(handler, options).pipe(Scope.extend(scope)))
    if (Exit.isFailure(exit)) {
      // Nothing was left running: release the pool, then raise the typed failure.
      await this.runtime.runPromise(Scope.close(scope, Exit.void))
      await this.release()
      throw publicError(exit.cause)
    }
    const serving = exit.value
    let stopped: Promise<void> | undefined
    const stop = (): Promise<void> =>
      (stopped ??= this.runtime
        .runPromise(Effect.zipRight(serving.stop, Scope.close(scope, Exit.void)))
        .then(() => this.release()))
    this.serving = { url: serving.url, port: serving.port, stop }
    return this.serving
  }

  /**
   * Releases the node: stops serving when it serves; after `register` alone, deregisters (best
   * effort) and closes its connection pool.
   */
  async close(): Promise<void> {
    if (this.serving) return this.serving.stop()
    if (!this.released) await this.runtime.runPromiseExit(Effect.flatMap(Registration, (r) => r.deregister))
    await this.release()
  }
}

/** Which backend {@link startNode} serves with. */
export type BackendChoice =
  | { readonly type: "echo" }
  | { readonly type: OpenAiBackendType; readonly baseUrl?: string; readonly apiKey?: string; readonly model?: string }

/** Options of {@link startNode}. */
export interface StartNodeOptions extends IicpNodeOptions, ServeOptions {
  readonly backend: BackendChoice
}

/**
 * Builds and serves a node with a stock backend, as the CLI does: the echo backend (model "echo")
 * or an OpenAI-compatible server. Intents default to chat; the OpenAI backend refuses intents it
 * cannot serve.
 */
export const startNode = async (options: StartNodeOptions): Promise<{ readonly node: IicpNode; readonly server: NodeServer }> => {
  const { backend, port, host, nodeToken, ...nodeOptions } = options
  const intents = nodeOptions.intent === undefined ? [] : typeof nodeOptions.intent === "string" ? [nodeOptions.intent] : nodeOptions.intent
  let handler: TaskHandler
  let model = nodeOptions.model
  if (backend.type === "echo") {
    handler = echoBackend()
    model ??= ECHO_MODEL
  } else {
    const unserved = intents.find((intent) => OPENAI_BACKEND_PATHS[intent] === undefined)
    if (unserved !== undefined) {
      throw toIicpError(new InvalidConfig({ field: "intent", message: `the ${backend.type} backend does not serve ${unserved}` }))
    }
    model ??= backend.model
    const backendModel = backend.model ?? (typeof model === "string" ? model : model?.[0])
    handler = openAiBackend({
      type: backend.type,
      ...(backend.baseUrl === undefined ? {} : { baseUrl: backend.baseUrl }),
      ...(backend.apiKey === undefined ? {} : { apiKey: backend.apiKey }),
      ...(backendModel === undefined ? {} : { model: backendModel })
    })
  }
  const node = new IicpNode({ ...nodeOptions, ...(model === undefined ? {} : { model }) })
  const server = await node.serve(handler, {
    ...(port === undefined ? {} : { port }),
    ...(host === undefined ? {} : { host }),
    ...(nodeToken === undefined ? {} : { nodeToken })
  })
  return { node, server }
}
