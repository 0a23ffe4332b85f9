/**
 * `POST /v1/task` after the body is read (WIRE.md §5.5 steps 2–10), independent of the lane that
 * carried it: shutdown, authentication, validation, policy, intent, idempotency, nonce, admission,
 * then the handler under its deadline. Every answer is a finished {@link TaskReply}.
 */
import { Context, Data, Duration, Effect, Layer, Option } from "effect"
import type { Clock } from "effect"
import {
  CAPACITY_RETRY_AFTER_MS,
  DEFAULT_QOS_CLASS,
  NODE_DEFAULT_TASK_TIMEOUT_MS,
  NODE_MAX_TASK_TIMEOUT_MS,
  NODE_MIN_TASK_TIMEOUT_MS,
  SHUTDOWN_RETRY_AFTER_S
} from "../constants.js"
import { errorEnvelope, retryHint } from "../protocol/envelope.js"
import type { EnvelopeExtras } from "../protocol/envelope.js"
import { isUuid } from "../protocol/ids.js"
import { isRecord } from "../protocol/json.js"
import { isValidTraceparent } from "../protocol/trace.js"
import { isValidIntent, refusedRiskCategory } from "../protocol/urn.js"
import type { Logger } from "../runtime/log.js"
import { Admission } from "./admission.js"
import type { AdmissionGate } from "./admission.js"
import { NodeAuth } from "./auth.js"
import type { AuthVerdict } from "./auth.js"
import { NodeSettings } from "./config.js"
import { Idempotency, taskFingerprint } from "./idempotency.js"
import type { StoredReply } from "./idempotency.js"
import { NodeLifecycle } from "./lifecycle.js"
import { NodeMetrics } from "./metrics.js"
import type { TaskStatus } from "./metrics.js"
import type { HandlerContext, NodeTask, QosClass, TaskHandler } from "./task.js"
import { QOS_PRIORITY } from "./task.js"

/** A task as a lane received it: the parsed body plus the request metadata that matters. */
export interface TaskSubmission {
  readonly body: Readonly<Record<string, unknown>>
  readonly authorization: string | undefined
  readonly consumerToken: string | undefined
  readonly traceparent: string | undefined
  readonly tracestate: string | undefined
  readonly traceId: string | undefined
  readonly clientIp: string
  readonly origin: string | undefined
}

/** A finished answer: status, headers and the exact body bytes. */
export interface TaskReply {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Buffer
}

/** Runs submitted tasks. */
export interface TaskRunnerService {
  /**
   * Runs one task: the answer itself when no step had to wait (the usual case: a synchronous
   * handler with a free slot), else the Effect to run for it. Lanes are plain code, so the common
   * case costs no fiber.
   */
  readonly submit: (submission: TaskSubmission) => TaskReply | Effect.Effect<TaskReply>
}

/** The task runner as an Effect service; one per node, shared by lanes. */
export class TaskRunner extends Context.Tag("iicp-mesh/TaskRunner")<TaskRunner, TaskRunnerService>() {
  /** A runner calling `handler` for every admitted task. */
  static readonly layer = (
    handler: TaskHandler
  ): Layer.Layer<TaskRunner, never, NodeSettings | NodeAuth | Admission | Idempotency | NodeMetrics | NodeLifecycle> =>
    Layer.effect(TaskRunner, makeTaskRunner(handler))
}

/** A request refused before the handler: nothing is recorded. */
class Refusal extends Data.TaggedError("Refusal")<{ readonly reply: TaskReply }> {}

class DeadlineExpired extends Data.TaggedError("DeadlineExpired") {}

const encode = (status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): TaskReply => ({
  status,
  headers,
  body: Buffer.from(JSON.stringify(body))
})

const refuse = (status: number, code: string, message: string, extras: EnvelopeExtras = {}, headers: Record<string, string> = {}) =>
  new Refusal({ reply: encode(status, errorEnvelope(code, message, extras), headers) })

/** A refusal carrying the §1.3 retry hint in the header and the body. */
const refuseWithHint = (status: number, code: string, message: string, retryAfterMs: number, extras: EnvelopeExtras = {}): Refusal => {
  const hint = retryHint(retryAfterMs)
  return refuse(status, code, message, { ...extras, ...hint.extras }, hint.headers)
}

const UNAVAILABLE = refuseWithHint(503, "unavailable", "node is shutting down", SHUTDOWN_RETRY_AFTER_S * 1000)
const UNAUTHORIZED = refuse(401, "unauthorized", "missing or invalid credential")

/** 429 `rate_limited` for an open-mode client over its limit. */
const rateLimited = (retryAfterMs: number): Refusal => refuseWithHint(429, "rate_limited", "too many requests", retryAfterMs)

/**
 * A handler context on the runner's clock, whose AbortController is only created when the handler
 * reads `signal`: most synchronous handlers never do, and the controller is a measurable share of a fast task.
 */
const lazySignalContext = (deadline: number, clock: Clock.Clock): HandlerContext & { readonly abort: () => void } => {
  let controller: AbortController | undefined
  let aborted = false
  return {
    deadline,
    remainingMs: () => Math.max(0, deadline - clock.unsafeCurrentTimeMillis()),
    get signal() {
      controller ??= new AbortController()
      if (aborted) controller.abort()
      return controller.signal
    },
    abort: () => {
      aborted = true
      controller?.abort()
    }
  }
}

const isPromiseLike = (value: unknown): value is PromiseLike<unknown> =>
  typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function"

/** The qos class a task asks for (§5.8): `qos`, else `qos_class`, else interactive; `undefined` when invalid. */
export const qosOf = (constraints: Readonly<Record<string, unknown>>): QosClass | undefined => {
  const raw = constraints["qos"] ?? constraints["qos_class"] ?? DEFAULT_QOS_CLASS
  const normalised = raw === "best_effort" ? "best-effort" : raw
  return typeof normalised === "string" && Object.hasOwn(QOS_PRIORITY, normalised) ? (normalised as QosClass) : undefined
}

interface ValidTask {
  readonly taskId: string
  readonly intent: string
  readonly timeoutMs: number
  readonly qos: QosClass
  readonly nonce: string | undefined
}

const invalid = (message: string) => refuse(422, "validation_error", message)

/** The intents a node serves, each with its policy verdict (served intents were validated at configuration). */
type ServedIntents = ReadonlyMap<string, ReturnType<typeof refusedRiskCategory>>

/** Steps 4–6: shape, policy and served intent, as a plain check (this runs for every task). */
const checkTask = (body: Readonly<Record<string, unknown>>, served: ServedIntents): ValidTask | Refusal => {
  const constraints = body["constraints"] ?? {}
  const intent = body["intent"]
  // A served intent is known valid, and its policy verdict known: only other intents pay for the checks.
  const isServed = typeof intent === "string" && served.has(intent)
  if (!isUuid(body["task_id"])) return invalid("task_id must be a UUID")
  if (!isServed && !isValidIntent(intent)) return invalid("intent is not a valid IICP intent URN")
  if (!isRecord(body["payload"])) return invalid("payload must be an object")
  if (!isRecord(constraints)) return invalid("constraints must be an object")
  const timeout = constraints["timeout_ms"] ?? NODE_DEFAULT_TASK_TIMEOUT_MS
  if (typeof timeout !== "number" || !Number.isInteger(timeout) || timeout < NODE_MIN_TASK_TIMEOUT_MS || timeout > NODE_MAX_TASK_TIMEOUT_MS) {
    return invalid(`constraints.timeout_ms must be an integer ${NODE_MIN_TASK_TIMEOUT_MS}-${NODE_MAX_TASK_TIMEOUT_MS}`)
  }
  const qos = qosOf(constraints)
  if (qos === undefined) return invalid("constraints.qos must be realtime, interactive, batch or best-effort")
  const category = isServed ? served.get(intent) : refusedRiskCategory(intent as string)
  if (category) return refuse(422, "IICP-POLICY-001", `intent refused by policy (${category})`)
  if (!isServed) return refuse(404, "unknown_intent", "this node does not serve the intent")
  const nonce = typeof body["nonce"] === "string" ? body["nonce"] : undefined
  return { taskId: body["task_id"], intent, timeoutMs: timeout, qos, nonce }
}

/** The handler's view of the task (§5.9): no `auth` or `nonce`, constraints filled in, trace from the headers. */
const handlerTask = (submission: TaskSubmission, valid: ValidTask): NodeTask => {
  const { auth: _auth, nonce: _nonce, ...rest } = submission.body
  const constraints = isRecord(rest["constraints"]) ? rest["constraints"] : {}
  const headerTrace = isValidTraceparent(submission.traceparent)
    ? { traceparent: submission.traceparent, ...(submission.tracestate ? { tracestate: submission.tracestate } : {}) }
    : undefined
  return {
    ...rest,
    task_id: valid.taskId,
    intent: valid.intent,
    payload: rest["payload"] as Record<string, unknown>,
    constraints: { ...constraints, timeout_ms: valid.timeoutMs, qos: valid.qos },
    ...(headerTrace ? { _trace: headerTrace } : {})
  }
}

/** A handler failure mapped by its status (§5.9); messages are generic so nothing from the backend leaks. */
const failureStatus = (failure: unknown): number => {
  if (failure instanceof DeadlineExpired) return 504
  const record = isRecord(failure) || failure instanceof Error ? (failure as unknown as Record<string, unknown>) : {}
  const status = typeof record["status"] === "number" ? record["status"] : typeof record["error_code"] === "number" ? record["error_code"] : undefined
  const code = record["code"]
  if (status === 408 || status === 504 || code === "task_timeout") return 504
  if (status === 429 || code === "capacity_exceeded") return 429
  if (status === 400 || status === 404 || status === 422 || code === "validation_error") return 422
  return 502
}

const numberAt = (value: unknown, ...path: Array<string>): number | undefined => {
  let at = value
  for (const key of path) at = isRecord(at) ? at[key] : undefined
  return typeof at === "number" && Number.isFinite(at) ? at : undefined
}

/** A handler's outcome: its result, or what it failed with. */
type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown }

/** A result carrying a numeric `error_code` is a failure (§5.9). */
const outcomeOf = (result: unknown): Outcome =>
  isRecord(result) && typeof result["error_code"] === "number" ? { ok: false, error: result } : { ok: true, value: result }

/** A handler outcome as the terminal answer (§5.5, §5.9); 429 and 422 mappings are refusals, recorded nowhere. */
const terminalAnswer = (
  valid: ValidTask,
  outcome: Outcome,
  latencyMs: number
): { readonly status: TaskStatus; readonly reply: TaskReply; readonly tokensUsed: number } | Refusal => {
  if (outcome.ok) {
    const result = outcome.value ?? null
    const tokensUsed = numberAt(result, "usage", "total_tokens") ?? 0
    const model = isRecord(result) && typeof result["model"] === "string" ? result["model"] : undefined
    const reply = encode(200, {
      task_id: valid.taskId,
      status: "success",
      result,
      metrics: { latency_ms: latencyMs, tokens_used: tokensUsed },
      ...(model === undefined ? {} : { model_used: model }),
      generated_by_ai: true
    })
    return { status: "success", reply, tokensUsed }
  }
  const code = failureStatus(outcome.error)
  if (code === 429) return capacityRefusal(valid.qos, "backend at capacity")
  if (code === 422) return invalid("backend rejected the request")
  const status: TaskStatus = code === 504 ? "timeout" : "error"
  const reply = encode(code, {
    task_id: valid.taskId,
    status,
    result: null,
    metrics: { latency_ms: latencyMs, tokens_used: 0 },
    error: code === 504 ? { code: "task_timeout", message: "timeout_ms exceeded" } : { code: "backend_error", message: "backend failed" }
  })
  return { status, reply, tokensUsed: 0 }
}

/** 429 `capacity_exceeded` with the normalised class and the retry hints (§5.8): `retry_after_ms` 2000, `Retry-After: 2`. */
const capacityRefusal = (qos: QosClass, message: string): Refusal =>
  refuseWithHint(429, "capacity_exceeded", message, CAPACITY_RETRY_AFTER_MS, { iicp_code: "IICP-E021", qos_class: qos })

/**
 * What a step of the pipeline gives: its value at once, a refusal, or a {@link Pending} effect when
 * the step has to wait (a pending handler promise, a queued admission, a running duplicate, a
 * consumer-token key fetch). Most tasks never wait, so the pipeline is plain code and a fiber is
 * started only for the steps that need one.
 */
type Step<A> = A | Refusal | Pending<A>

/** A step that has to wait. */
class Pending<A> {
  constructor(readonly effect: Effect.Effect<A, Refusal>) {}
}

const isSettled = <A>(step: Step<A>): step is A => !(step instanceof Pending) && !(step instanceof Refusal)

/** The step as an Effect. */
const toEffect = <A>(step: Step<A>): Effect.Effect<A, Refusal> =>
  step instanceof Pending ? step.effect : step instanceof Refusal ? Effect.fail(step) : Effect.succeed(step)

/** Runs `next` on the step's value: at once when settled, inside the effect when pending. */
const andThen = <A, B>(step: Step<A>, next: (value: A) => Step<B>): Step<B> =>
  step instanceof Pending ? new Pending(Effect.flatMap(step.effect, (value) => toEffect(next(value)))) : step instanceof Refusal ? step : next(step)

/**
 * Calls the handler with a context whose signal fires at the deadline. A synchronous result (the
 * echo backend) settles at once; only a pending promise is raced against the deadline on the Effect clock.
 */
const invoke = (handler: TaskHandler, clock: Clock.Clock, task: NodeTask, started: number, timeoutMs: number): Step<Outcome> => {
  const context = lazySignalContext(started + timeoutMs, clock)
  let result: unknown
  try {
    result = handler(task, context)
  } catch (error) {
    return { ok: false, error }
  }
  if (!isPromiseLike(result)) return outcomeOf(result)
  return new Pending(
    Effect.async<unknown, unknown>((resume) => {
      result.then(
        (value) => resume(Effect.succeed(value)),
        (error: unknown) => resume(Effect.fail(error))
      )
      return Effect.sync(context.abort)
    }).pipe(
      Effect.timeoutFail({ duration: Duration.millis(timeoutMs), onTimeout: () => new DeadlineExpired() }),
      Effect.match({ onSuccess: outcomeOf, onFailure: (error): Outcome => ({ ok: false, error }) })
    )
  )
}

/**
 * Runs `use` holding an admission slot: taken at once when one is free, else through the gate's
 * queue (which may refuse). The slot is released however `use` ends, interruption included.
 */
const withSlot = (admission: AdmissionGate, clock: Clock.Clock, log: Logger, valid: ValidTask, use: () => Step<TaskReply>): Step<TaskReply> => {
  if (!admission.tryAcquire(clock.unsafeCurrentTimeMillis())) {
    return new Pending(
      admission.withSlot(valid.qos, Effect.suspend(() => toEffect(use()))).pipe(
        Effect.catchTag("CapacityRefused", (refused) => {
          log.info("task refused: capacity", { task_id: valid.taskId, qos: refused.qos })
          return Effect.fail(capacityRefusal(refused.qos, "node at capacity"))
        })
      )
    )
  }
  const releaseNow = () => admission.release(clock.unsafeCurrentTimeMillis())
  let step: Step<TaskReply> | undefined
  try {
    step = use()
  } finally {
    if (!(step instanceof Pending)) releaseNow()
  }
  // The pending effect runs in the lane's fiber from here on, so the release rides on its exit.
  return step instanceof Pending ? new Pending(Effect.ensuring(step.effect, Effect.sync(releaseNow))) : step
}

/** Builds a runner calling `handler` (for lanes that assemble their own services). */
export const makeTaskRunner = (handler: TaskHandler) =>
  Effect.gen(function* () {
    const config = yield* NodeSettings
    const auth = yield* NodeAuth
    const admission = yield* Admission
    const ledger = yield* Idempotency
    const metrics = yield* NodeMetrics
    const lifecycle = yield* NodeLifecycle
    // The clock of the runtime the runner is built in (TestClock in tests), read synchronously by the plain-code steps.
    const clock = yield* Effect.clock
    const log = config.logger
    const served: ServedIntents = new Map(config.intents.map((intent) => [intent, refusedRiskCategory(intent)]))

    /** Step 10: run the handler under the deadline and build the terminal answer. */
    const execute = (submission: TaskSubmission, valid: ValidTask): Step<TaskReply> => {
      const started = clock.unsafeCurrentTimeMillis()
      return andThen(invoke(handler, clock, handlerTask(submission, valid), started, valid.timeoutMs), (outcome) => {
        const latencyMs = Math.max(0, clock.unsafeCurrentTimeMillis() - started)
        const finished = terminalAnswer(valid, outcome, latencyMs)
        if (finished instanceof Refusal) return finished
        log.info("task finished", { task_id: valid.taskId, status: finished.status, latency_ms: latencyMs })
        metrics.record({ status: finished.status, intent: valid.intent, qos: valid.qos, latencyMs, tokensUsed: finished.tokensUsed })
        return finished.reply
      })
    }

    /** Steps 8–10 for a task this request owns: nonce, admission, handler. */
    const admitAndExecute = (submission: TaskSubmission, valid: ValidTask): Step<TaskReply> => {
      const nonce = valid.nonce
      if (nonce !== undefined && ledger.nonceSeenAt(nonce, clock.unsafeCurrentTimeMillis())) {
        return refuse(409, "conflict", "nonce already used", { iicp_code: "IICP-E011", reason: "replay_detected" })
      }
      return withSlot(admission, clock, log, valid, () => {
        if (nonce !== undefined) ledger.recordNonceAt(nonce, clock.unsafeCurrentTimeMillis())
        return execute(submission, valid)
      })
    }

    const toStored = (reply: TaskReply): StoredReply => ({ status: reply.status, body: reply.body })
    const replay = (stored: StoredReply): TaskReply => ({
      status: stored.status,
      body: stored.body,
      headers: { "x-iicp-idempotent-replay": "true" }
    })

    /** Step 7: run once per task_id; identical retries get the stored answer, different bodies 409. */
    const once = (submission: TaskSubmission, valid: ValidTask, fingerprint: string): Step<TaskReply> => {
      const claim = ledger.claimAt(valid.taskId, fingerprint, clock.unsafeCurrentTimeMillis())
      switch (claim._tag) {
        case "Replay":
          return replay(claim.reply)
        case "Conflict":
          return refuse(409, "conflict", "task_id reused with a different body", { iicp_code: "IICP-E010", reason: "task_id_reused" })
        case "Running":
          return new Pending(
            claim.outcome.pipe(
              Effect.timeoutFail({ duration: Duration.millis(valid.timeoutMs), onTimeout: () => new DeadlineExpired() }),
              Effect.flatMap(
                Option.match({ onNone: () => toEffect(once(submission, valid, fingerprint)), onSome: (stored) => Effect.succeed(replay(stored)) })
              ),
              Effect.catchTag("DeadlineExpired", () => Effect.fail(refuse(504, "task_timeout", "timeout_ms exceeded while the first attempt ran")))
            )
          )
        case "Fresh": {
          const step = admitAndExecute(submission, valid)
          if (step instanceof Pending) {
            return new Pending(
              step.effect.pipe(
                Effect.tap((reply) => claim.complete(toStored(reply))),
                Effect.onExit((exit) => (exit._tag === "Success" ? Effect.void : claim.abandon))
              )
            )
          }
          if (step instanceof Refusal) claim.abandonNow()
          else claim.completeAt(toStored(step), clock.unsafeCurrentTimeMillis())
          return step
        }
      }
    }

    /** Steps 4–7 once the request is authorised. */
    const afterAuth = (submission: TaskSubmission, verdict: AuthVerdict): Step<TaskReply> => {
      if (verdict._tag === "Unauthorized") return UNAUTHORIZED
      if (verdict._tag === "RateLimited") return rateLimited(verdict.retryAfterMs)
      const valid = checkTask(submission.body, served)
      return valid instanceof Refusal ? valid : once(submission, valid, taskFingerprint(submission.body))
    }

    const pipeline = (submission: TaskSubmission): Step<TaskReply> => {
      if (lifecycle.draining()) return UNAVAILABLE
      const body = submission.body
      const credentials = {
        authorization: submission.authorization,
        consumerToken: submission.consumerToken,
        bodyAuth: body["auth"],
        intent: body["intent"],
        clientIp: submission.clientIp,
        origin: submission.origin
      }
      const verdict = auth.verdictAt(credentials, clock.unsafeCurrentTimeMillis())
      if (verdict !== undefined) return afterAuth(submission, verdict)
      return andThen(new Pending(auth.authorize(credentials)), (later) => afterAuth(submission, later))
    }

    const withTraceId = (submission: TaskSubmission, reply: TaskReply): TaskReply =>
      submission.traceId === undefined ? reply : { ...reply, headers: { ...reply.headers, "x-iicp-trace-id": submission.traceId } }

    const submit = (submission: TaskSubmission): TaskReply | Effect.Effect<TaskReply> => {
      const step = pipeline(submission)
      if (step instanceof Refusal) return withTraceId(submission, step.reply)
      if (isSettled(step)) return withTraceId(submission, step)
      return step.effect.pipe(
        Effect.catchTag("Refusal", (refusal) => Effect.succeed(refusal.reply)),
        Effect.map((reply) => withTraceId(submission, reply))
      )
    }

    return { submit } satisfies TaskRunnerService
  })
