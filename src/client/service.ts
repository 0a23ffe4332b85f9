/**
 * The client implementation (WIRE.md §4): discover → select → submit, each task one
 * task-lifecycle actor hosted in its own fiber. Both the Effect service and the Promise class use it.
 */
import { Context, Effect, FiberId, Layer, Random, Runtime } from "effect"
import type { Scope } from "effect"
import { fromCallback } from "xstate"
import type { EventObject } from "xstate"
import { taskLifecycleMachine } from "../../machines/task-lifecycle.js"
import type {
  AttemptCall,
  DiscoverCall,
  TaskCandidate,
  TaskLifecycleEvent,
  TaskLifecycleInput,
  TaskLifecycleOutput
} from "../../machines/task-lifecycle.js"
import { DEFAULT_QOS_CLASS, MAX_CLIENT_TIMEOUT_MS, MAX_TASK_ATTEMPTS, MIN_CLIENT_TASK_TIMEOUT_MS, TASK_ATTEMPT_GRACE_MS } from "../constants.js"
import { AllNodesFailed, Cancelled, InvalidRequest, NoNodesForIntent, Timeout } from "../protocol/errors.js"
import type { InvalidConfig, MeshError } from "../protocol/errors.js"
import { newTaskId } from "../protocol/ids.js"
import { isRecord } from "../protocol/json.js"
import { newTraceparent } from "../protocol/trace.js"
import { checkIntent } from "../protocol/urn.js"
import { bridgedClock, clockOf, scheduleOn } from "../runtime/clock.js"
import { runToCompletion } from "../runtime/host.js"
import { createAgent } from "../runtime/http-client.js"
import { startAttempt } from "./attempt.js"
import type { AttemptDeps, AttemptHost, AttemptSuccess, PreparedTask } from "./attempt.js"
import { makeCircuitBreaker } from "./breaker.js"
import { chatRequest, toChatResponse } from "./chat.js"
import { resolveClientConfig } from "./config.js"
import type { IicpClientConfig, ResolvedClientConfig } from "./config.js"
import { makeConsumerTokens } from "./consumer-tokens.js"
import { makeDirectoryClient } from "./directory.js"
import type { DiscoverQuery } from "./directory.js"
import type {
  ChatMessageInput,
  ChatOptions,
  ChatResponse,
  DiscoverOptions,
  DiscoverResult,
  NodeTarget,
  SubmitOptions,
  SubmitRequest,
  TaskResponse
} from "./types.js"

/** The client's operations as Effects. Failures are {@link MeshError}s whose messages never carry a token. */
export interface IicpClientApi {
  /** Discovers nodes serving `intent` (§4.2); cached for the directory's max-age. */
  readonly discover: (intent: string, options?: DiscoverOptions) => Effect.Effect<DiscoverResult, MeshError>
  /** Runs a task: up to `maxRetries` attempts across candidates within the task deadline (§4.3, §4.4). */
  readonly submit: (request: SubmitRequest, options?: SubmitOptions) => Effect.Effect<TaskResponse, MeshError>
  /** Runs an llm-chat-v1 task and returns the OpenAI-shaped answer (§4.5). */
  readonly chat: (messages: ReadonlyArray<ChatMessageInput>, options?: ChatOptions) => Effect.Effect<ChatResponse, MeshError>
}

/**
 * The `IicpClient` service tag, named apart from the Promise class of the package root.
 * `IicpClientService.layer(config)` validates the configuration (`InvalidConfig`) and owns one
 * keep-alive connection pool for the layer's lifetime.
 */
export class IicpClientService extends Context.Tag("iicp-mesh/IicpClient")<IicpClientService, IicpClientApi>() {
  static readonly layer = (config: IicpClientConfig = {}): Layer.Layer<IicpClientService, InvalidConfig> =>
    Layer.unwrapEffect(Effect.map(resolveClientConfig(config), clientLayer))
}

/** A fixed node of `submit(…, { node })` as a candidate; `undefined` when its endpoint is not http(s). */
const targetCandidate = (node: NodeTarget | string): TaskCandidate | undefined => {
  const target = typeof node === "string" ? { node_id: node, endpoint: node } : node
  if (!/^https?:\/\//i.test(target.endpoint)) return undefined
  return { nodeId: target.node_id, endpoint: target.endpoint, relayed: target.transport_method === "turn_relay" }
}

/** A task that passed every check, with what hosting it needs. */
interface PlannedTask {
  readonly prepared: PreparedTask
  /** The node of a submit aimed at one. */
  readonly fixed: TaskCandidate | undefined
  readonly query: DiscoverQuery | undefined
  readonly deadlineMs: number
}

/** Uniform samples for the back-off jitter of each retry, from Effect's `Random` (TestRandom in tests). */
const jitterSamples = Effect.replicateEffect(Random.next, MAX_TASK_ATTEMPTS - 1)

/** What the provided actors need of a running task, found by its id. */
interface RunningTask {
  readonly prepared: PreparedTask
  /** The discover query; `undefined` for a submit aimed at a given node. */
  readonly query: DiscoverQuery | undefined
  /** The task's fiber runtime and its Clock: attempts read time and arm timers there. */
  readonly host: AttemptHost
}

const runningTask = (tasks: ReadonlyMap<string, RunningTask>, taskId: string): RunningTask => {
  const task = tasks.get(taskId)
  if (!task) throw new Error("task-lifecycle actor started for an unknown task")
  return task
}

/** Candidates from a discover answer, in the directory's order. */
const candidatesOf = (result: DiscoverResult): Array<TaskCandidate> =>
  result.nodes.map((node) => ({
    nodeId: node.node_id,
    endpoint: node.endpoint,
    available: node.available,
    relayed: node.transport_method === "turn_relay"
  }))

/** The task's result or error from the machine's output. */
const settle = (output: TaskLifecycleOutput, intent: string, deadlineMs: number): Effect.Effect<TaskResponse, MeshError> => {
  switch (output.status) {
    case "succeeded":
      return Effect.succeed({ ...(output.result as AttemptSuccess), attempts: output.attempts.length + 1 })
    case "cancelled":
      return Effect.fail(new Cancelled({ message: "task cancelled by the caller" }))
    case "failed": {
      const failure = output.failure
      switch (failure.reason) {
        case "discovery":
        case "terminal":
          return Effect.fail(failure.error as MeshError)
        case "no_candidates":
          return Effect.fail(new NoNodesForIntent({ intent }))
        case "deadline":
          return Effect.fail(new Timeout({ scope: "task", afterMs: deadlineMs }))
        case "exhausted":
          return Effect.fail(
            new AllNodesFailed({
              attempts: failure.attempts.map((a) => ({
                node_id: a.nodeId,
                code: a.code,
                ...(a.httpStatus === undefined ? {} : { http_status: a.httpStatus })
              })),
              allTimedOut: failure.allTimedOut,
              ...(failure.lastError === undefined ? {} : { last: failure.lastError as MeshError })
            })
          )
      }
    }
  }
}

/** Builds a client from a validated configuration; its connection pool closes with the scope. */
export const makeIicpClient = (config: ResolvedClientConfig): Effect.Effect<IicpClientApi, never, Scope.Scope> =>
  Effect.gen(function* () {
    const agent = yield* Effect.acquireRelease(
      Effect.sync(() => createAgent({ rejectUnauthorized: config.tlsVerify })),
      (pool) => Effect.promise(() => pool.close())
    )
    const directory = yield* makeDirectoryClient({
      directoryUrl: config.directoryUrl,
      region: config.region,
      agent,
      secrets: config.secrets,
      breaker: makeCircuitBreaker()
    })
    const breaker = makeCircuitBreaker()
    const consumer = config.consumer
      ? { mode: config.consumer.mode, tokens: yield* makeConsumerTokens(directory, config.consumer) }
      : undefined
    const deps: AttemptDeps = { agent, breaker, operatorToken: config.operatorToken, consumer, secrets: config.secrets, logger: config.logger }
    // One machine per client (providing per task would rebuild its state tree every time); tasks are found by id.
    const tasks = new Map<string, RunningTask>()
    const logic = taskLifecycleMachine.provide({
      actors: {
        // Only a task that found no fresh cached answer at submit discovers; the lookup still joins a request in flight.
        discover: fromCallback<EventObject, DiscoverCall>(({ input, sendBack }) => {
          const task = runningTask(tasks, input.taskId)
          const discovered = directory.lookup(task.query!, task.prepared.traceparent).pipe(
            Effect.match({
              onFailure: (error): TaskLifecycleEvent => ({ type: "DISCOVERY.FAILED", error }),
              onSuccess: (result): TaskLifecycleEvent => ({ type: "DISCOVERY.DONE", candidates: candidatesOf(result) })
            }),
            Effect.map(sendBack)
          )
          const fiber = Runtime.runFork(task.host.runtime)(discovered)
          // Interrupt in place: XState stops the actor synchronously and needs nothing awaited.
          return () => fiber.unsafeInterruptAsFork(FiberId.none)
        }),
        // No fiber: the attempt is an undici request whose callbacks report straight to the machine.
        submitAttempt: fromCallback<EventObject, AttemptCall>(({ input, sendBack }) => {
          const task = runningTask(tasks, input.taskId)
          return startAttempt(deps, task.prepared, input.candidate, task.host, sendBack)
        })
      }
    })

    const discover: IicpClientApi["discover"] = (intent, options = {}) =>
      Effect.suspend((): Effect.Effect<DiscoverResult, MeshError> => {
        const error = checkIntent(intent)
        return error ? Effect.fail(error) : directory.discover(intent, options, newTraceparent())
      })

    /** A checked task ready to host, or the error that stops it before any I/O. */
    const plan = (request: SubmitRequest, options: SubmitOptions): PlannedTask | MeshError => {
      const intentError = checkIntent(request.intent)
      if (intentError) return intentError
      if (!isRecord(request.payload)) return new InvalidRequest({ message: "payload must be a JSON object" })
      const constraints = request.constraints ?? {}
      const timeoutMs = constraints.timeout_ms ?? config.timeoutMs
      if (!Number.isInteger(timeoutMs) || timeoutMs < MIN_CLIENT_TASK_TIMEOUT_MS || timeoutMs > MAX_CLIENT_TIMEOUT_MS) {
        return new InvalidRequest({ message: `constraints.timeout_ms must be an integer from ${MIN_CLIENT_TASK_TIMEOUT_MS} to ${MAX_CLIENT_TIMEOUT_MS}` })
      }
      const fixed = options.node === undefined ? undefined : targetCandidate(options.node)
      if (options.node !== undefined && fixed === undefined) return new InvalidRequest({ message: "node endpoint must be an http(s) URL" })
      if (options.signal?.aborted) return new Cancelled({ message: "task cancelled before it started" })
      let query: DiscoverQuery | undefined
      if (fixed === undefined) {
        const discoverOptions = constraints.region ? { ...options.discover, region: constraints.region } : (options.discover ?? {})
        const checked = directory.queryFor(request.intent, discoverOptions)
        if (checked instanceof InvalidRequest) return checked
        query = checked
      }
      const taskId = newTaskId()
      // One task_id, body and traceparent for discovery and every attempt (PROTO-MSG-01, TRACE-01).
      const prepared: PreparedTask = {
        taskId,
        intent: request.intent,
        traceparent: newTraceparent(),
        timeoutMs,
        body: {
          task_id: taskId,
          intent: request.intent,
          payload: request.payload,
          constraints: { ...constraints, timeout_ms: timeoutMs, qos: constraints.qos ?? DEFAULT_QOS_CLASS },
          ...(config.operatorToken ? { auth: { node_token: config.operatorToken } } : {})
        }
      }
      return { prepared, fixed, query, deadlineMs: timeoutMs + TASK_ATTEMPT_GRACE_MS }
    }

    const hostOptions = { cancelEvent: { type: "CANCEL" }, ...(config.inspect ? { inspect: config.inspect } : {}) }

    /** Runs a planned task's actor to its end on the current fiber's runtime; aborting `signal` cancels it. */
    const host = (task: PlannedTask, jitterSamples: ReadonlyArray<number>, runtime: Runtime.Runtime<never>, signal: AbortSignal | undefined) => {
      const { prepared, fixed, query } = task
      const clock = clockOf(runtime)
      // A fresh cached discover answer goes in as the candidates: no discover actor, no fiber, no wait.
      const cached = query === undefined ? undefined : directory.cached(query, clock.unsafeCurrentTimeMillis())
      const candidates = fixed ? [fixed] : cached ? candidatesOf(cached) : undefined
      const input: TaskLifecycleInput = {
        taskId: prepared.taskId,
        deadlineMs: task.deadlineMs,
        maxAttempts: config.maxAttempts,
        jitterSamples,
        ...(candidates ? { candidates } : {})
      }
      return Effect.ensuring(
        Effect.suspend(() => {
          tasks.set(prepared.taskId, { prepared, query, host: { runtime, clock, schedule: scheduleOn(runtime) } })
          return runToCompletion(logic, input, {
            ...hostOptions,
            id: prepared.taskId,
            clock: bridgedClock(runtime),
            ...(signal ? { signal } : {})
          })
        }),
        Effect.sync(() => tasks.delete(prepared.taskId))
      )
    }

    const submit: IicpClientApi["submit"] = (request, options = {}) =>
      Effect.suspend(() => {
        const task = plan(request, options)
        if (!("prepared" in task)) return Effect.fail(task)
        const hosted = Effect.flatMap(jitterSamples, (samples) =>
          Effect.flatMap(Effect.runtime<never>(), (runtime) => host(task, samples, runtime, options.signal))
        )
        return Effect.flatMap(hosted, (snapshot) => settle(snapshot.output as TaskLifecycleOutput, request.intent, task.deadlineMs))
      })

    const chat: IicpClientApi["chat"] = (messages, options = {}) =>
      Effect.suspend(() => {
        const request = chatRequest(messages, options)
        if (request instanceof InvalidRequest) return Effect.fail(request)
        const submitted = submit(request, {
          ...(options.node === undefined ? {} : { node: options.node }),
          ...(options.signal === undefined ? {} : { signal: options.signal }),
          ...(options.model === undefined ? {} : { discover: { model: options.model } })
        })
        return Effect.flatMap(submitted, (task) => toChatResponse(task, options.model))
      })

    return { discover, submit, chat }
  })

/** The client service from a validated configuration. */
export const clientLayer = (config: ResolvedClientConfig): Layer.Layer<IicpClientService> =>
  Layer.scoped(IicpClientService, makeIicpClient(config))
