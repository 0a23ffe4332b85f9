/**
 * One task attempt (WIRE.md §4.4): `POST {endpoint}/v1/task`, then the answer classified into the
 * task-lifecycle machine's ATTEMPT.* events. Errors become events, never failures; the circuit
 * breaker is consulted before sending and told the outcome after.
 */
import { Exit, FiberId, Option, Runtime } from "effect"
import type { Clock, Fiber } from "effect"
import type { Dispatcher } from "undici"
import type { TaskCandidate, TaskLifecycleEvent } from "../../machines/task-lifecycle.js"
import { TASK_ATTEMPT_GRACE_MS } from "../constants.js"
import { parseErrorBody } from "../protocol/envelope.js"
import { CapacityExceeded, NodeRejected, Timeout, Transport, isRetryableCode, redact } from "../protocol/errors.js"
import { isRecord } from "../protocol/json.js"
import type { ScheduleTimer } from "../runtime/clock.js"
import { HttpFailure, startJsonRequest } from "../runtime/http-client.js"
import type { AbortRequest, HttpRequest, HttpResponse } from "../runtime/http-client.js"
import type { Logger } from "../runtime/log.js"
import type { CircuitBreaker } from "./breaker.js"
import type { ConsumerTokens } from "./consumer-tokens.js"
import type { TaskResponse } from "./types.js"

/** A task ready to send: identical on every attempt (same `task_id`, same body, same `traceparent`). */
export interface PreparedTask {
  readonly taskId: string
  readonly intent: string
  readonly traceparent: string
  /** The `/v1/task` body, `auth` included when an operator token is configured. */
  readonly body: Readonly<Record<string, unknown>>
  /** `constraints.timeout_ms`. */
  readonly timeoutMs: number
}

/** What an attempt needs from the client. */
export interface AttemptDeps {
  readonly agent: Dispatcher
  readonly breaker: CircuitBreaker
  readonly operatorToken: string | undefined
  readonly consumer: { readonly mode: "optional" | "required"; readonly tokens: ConsumerTokens } | undefined
  readonly secrets: ReadonlyArray<string>
  readonly logger: Logger
}

/** The outcome of a successful attempt, before the runtime adds the attempt count. */
export type AttemptSuccess = Omit<TaskResponse, "attempts">

type AttemptEvent = Extract<TaskLifecycleEvent, { type: `ATTEMPT.${string}` }>
type FailureType = "ATTEMPT.CAPACITY" | "ATTEMPT.RETRYABLE" | "ATTEMPT.WRONG_NODE" | "ATTEMPT.TERMINAL"

/** Codes that mean "this node cannot take the task, the next may": the next candidate, no delay (§4.4). */
const WRONG_NODE_CODES: ReadonlySet<string> = new Set(["not_found", "unknown_intent", "IICP-E030"])

/** "From a relay" (§4.4): the endpoint is a relay route or the node is reached through TURN relay. */
const isRelayed = (candidate: TaskCandidate): boolean => candidate.relayed === true || candidate.endpoint.includes("/v1/relay-for/")

/**
 * The §4.4 table: which ATTEMPT event an error answer with this status and code is. A 404 is a
 * wrong node only for the codes that say so (a bare 404 reads as `not_found`); any other 404 is terminal.
 */
const classify = (status: number, code: string, relayed: boolean): FailureType => {
  if (code === "capacity_exceeded") return "ATTEMPT.CAPACITY"
  if (WRONG_NODE_CODES.has(code)) return "ATTEMPT.WRONG_NODE"
  if (status === 404) return "ATTEMPT.TERMINAL"
  if (isRetryableCode(code) || status === 429 || status === 503 || status === 504) return "ATTEMPT.RETRYABLE"
  if (relayed && status === 502) return "ATTEMPT.RETRYABLE"
  return "ATTEMPT.TERMINAL"
}

/** First of `metrics.tokens_used`, `result.usage.total_tokens`, `usage.total_tokens` (§4.4). */
const tokensUsed = (body: Record<string, unknown>, result: unknown): number => {
  const candidates = [
    isRecord(body["metrics"]) ? body["metrics"]["tokens_used"] : undefined,
    isRecord(result) && isRecord(result["usage"]) ? result["usage"]["total_tokens"] : undefined,
    isRecord(body["usage"]) ? body["usage"]["total_tokens"] : undefined
  ]
  const found = candidates.find((n): n is number => typeof n === "number" && Number.isFinite(n))
  return found ?? 0
}

/** Reads one HTTP answer into an ATTEMPT event (§4.4 success rules and failure table). */
const classifyAnswer = (
  candidate: TaskCandidate,
  task: PreparedTask,
  res: HttpResponse,
  latencyMs: number,
  secrets: ReadonlyArray<string>,
  now: number
): AttemptEvent => {
  const nodeId = candidate.nodeId
  const ok = res.status >= 200 && res.status <= 299
  const body = res.body
  if (ok && !isRecord(body)) {
    const error = new Transport({ reason: "malformed_response", nodeId, message: `node ${nodeId} answered ${res.status} without a JSON object` })
    return { type: "ATTEMPT.RETRYABLE", code: "IICP-E004", httpStatus: res.status, error }
  }
  let status = res.status
  if (ok && isRecord(body)) {
    const inBandError = body["error_code"] !== undefined || isRecord(body["error"]) || body["status"] === "error" || body["status"] === "timeout"
    const knownStatus = body["status"] === undefined || body["status"] === "success" || body["status"] === "completed"
    if (!inBandError && knownStatus) {
      const result = body["result"] === undefined && Array.isArray(body["choices"]) ? body : body["result"]
      const success: AttemptSuccess = {
        task_id: task.taskId,
        status: typeof body["status"] === "string" ? body["status"] : "success",
        result,
        node_id: nodeId,
        ...(typeof body["model_used"] === "string" ? { model_used: body["model_used"] } : {}),
        metrics: { latency_ms: latencyMs, tokens_used: tokensUsed(body, result) }
      }
      return { type: "ATTEMPT.SUCCEEDED", result: success }
    }
  }
  // Past the success rules: the answer is read as an error (§3.1).
  let parsed = parseErrorBody(res.status, body, res.headers["retry-after"], now)
  if (ok && isRecord(body)) {
    // A 2xx carrying a failure is read by its code: error.code, else task_timeout for `timeout`, else backend_error.
    const error = body["error"]
    const code = isRecord(error) && typeof error["code"] === "string" ? error["code"] : body["status"] === "timeout" ? "task_timeout" : "backend_error"
    parsed = { ...parsed, code, message: isRecord(error) && typeof error["message"] === "string" ? error["message"] : `in-band ${code}` }
    status = code === "task_timeout" ? 504 : 502
  }
  const type = classify(status, parsed.code, isRelayed(candidate))
  const fields = { code: parsed.code, httpStatus: res.status, hintMs: parsed.retryAfterMs }
  if (type === "ATTEMPT.CAPACITY") {
    const error = new CapacityExceeded({
      nodeId,
      ...(parsed.qosClass === undefined ? {} : { qosClass: parsed.qosClass }),
      ...(parsed.retryAfterMs === undefined ? {} : { retryAfterMs: parsed.retryAfterMs })
    })
    return { type, ...fields, error }
  }
  const error = new NodeRejected({
    nodeId,
    status: res.status,
    code: parsed.code,
    message: redact(`node ${nodeId} answered ${res.status} ${parsed.code}: ${parsed.message}`, secrets),
    ...(parsed.retryAfterMs === undefined ? {} : { retryAfterMs: parsed.retryAfterMs })
  })
  return { type, ...fields, error }
}

/** Whether an event counts against the node's circuit breaker: connect errors, timeouts, 5xx, `IICP-E030` (§4.2). */
const breakerFailure = (event: AttemptEvent): boolean => {
  if (event.type === "ATTEMPT.SUCCEEDED" || event.type === "ATTEMPT.SKIPPED") return false
  return event.code === "IICP-E003" || event.code === "IICP-E004" || event.code === "IICP-E030" || (event.httpStatus ?? 0) >= 500
}

const headersFor = (deps: AttemptDeps, task: PreparedTask, consumerToken: string | undefined): Record<string, string> => ({
  traceparent: task.traceparent,
  ...(deps.operatorToken ? { authorization: `Bearer ${deps.operatorToken}` } : {}),
  ...(consumerToken ? { "x-iicp-consumer-token": consumerToken } : {})
})

/** The ATTEMPT event of a request that got no HTTP answer. */
const transportEvent = (candidate: TaskCandidate, failure: HttpFailure, attemptTimeoutMs: number): AttemptEvent =>
  failure.reason === "timeout"
    ? { type: "ATTEMPT.RETRYABLE", code: "IICP-E003", error: new Timeout({ scope: "attempt", nodeId: candidate.nodeId, afterMs: attemptTimeoutMs }) }
    : {
        type: "ATTEMPT.RETRYABLE",
        code: "IICP-E004",
        error: new Transport({ reason: failure.reason, nodeId: candidate.nodeId, message: `node ${candidate.nodeId}: ${failure.message}` })
      }

/** What an attempt takes from its task's Effect runtime: its Clock (time and timers) and, for consumer tokens, the runtime. */
export interface AttemptHost {
  readonly runtime: Runtime.Runtime<never>
  readonly clock: Clock.Clock
  readonly schedule: ScheduleTimer
}

const SKIPPED: AttemptEvent = { type: "ATTEMPT.SKIPPED" }

/**
 * Starts one attempt of `task` at `candidate` and calls `report` exactly once with its classified
 * outcome, unless the returned canceller runs first (which aborts the request and gives back a
 * half-open trial). No fiber runs unless a consumer token has to be fetched: an attempt is one
 * undici request whose callbacks report straight to the machine.
 */
export const startAttempt = (
  deps: AttemptDeps,
  task: PreparedTask,
  candidate: TaskCandidate,
  host: AttemptHost,
  report: (event: AttemptEvent) => void
): (() => void) => {
  const nodeId = candidate.nodeId
  const admission = deps.breaker.admit(nodeId, host.clock.unsafeCurrentTimeMillis())
  if (admission === "rejected") {
    report(SKIPPED)
    return () => undefined
  }
  let settled = false
  let abortRequest: AbortRequest | undefined
  const send = (consumerToken: string | undefined) => {
    const started = host.clock.unsafeCurrentTimeMillis()
    const attemptTimeoutMs = task.timeoutMs + TASK_ATTEMPT_GRACE_MS
    const request: HttpRequest = {
      method: "POST",
      url: `${candidate.endpoint.replace(/\/+$/, "")}/v1/task`,
      headers: headersFor(deps, task, consumerToken),
      body: task.body,
      timeoutMs: attemptTimeoutMs
    }
    abortRequest = startJsonRequest(deps.agent, request, host.schedule, (outcome) => {
      settled = true
      const now = host.clock.unsafeCurrentTimeMillis()
      let event: AttemptEvent
      if (outcome instanceof HttpFailure) event = transportEvent(candidate, outcome, attemptTimeoutMs)
      else {
        const echoed = isRecord(outcome.body) ? outcome.body["task_id"] : undefined
        if (typeof echoed === "string" && echoed !== task.taskId) deps.logger.warn("task_id mismatch", { task_id: task.taskId, node_id: nodeId })
        event = classifyAnswer(candidate, task, outcome, now - started, deps.secrets, now)
      }
      deps.breaker.record(nodeId, breakerFailure(event), now)
      if (event.type !== "ATTEMPT.SUCCEEDED" && event.type !== "ATTEMPT.SKIPPED") {
        deps.logger.debug("attempt failed", { task_id: task.taskId, node_id: nodeId, code: event.code })
      }
      report(event)
    })
  }
  const consumer = deps.consumer
  let tokenFiber: Fiber.RuntimeFiber<Option.Option<string>> | undefined
  if (consumer === undefined) send(undefined)
  else {
    tokenFiber = Runtime.runFork(host.runtime)(consumer.tokens.tokenFor(nodeId, task.intent, task.traceparent))
    tokenFiber.addObserver((exit) => {
      if (Exit.isInterrupted(exit)) return
      const token = Exit.isSuccess(exit) ? Option.getOrUndefined(exit.value) : undefined
      if (consumer.mode === "required" && token === undefined) {
        settled = true
        if (admission === "trial") deps.breaker.release(nodeId)
        report(SKIPPED)
      } else send(token)
    })
  }
  return () => {
    tokenFiber?.unsafeInterruptAsFork(FiberId.none)
    abortRequest?.()
    if (!settled && admission === "trial") deps.breaker.release(nodeId)
    settled = true
  }
}
