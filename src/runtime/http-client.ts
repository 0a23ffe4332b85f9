/**
 * Outbound HTTP for every role: undici with keep-alive pools, JSON in and out, `Content-Length`
 * bodies (§1.2), and timeouts on Effect's clock so TestClock governs them. Interrupting the effect
 * aborts the request on the wire. Answers are read up to a size cap, so a hostile peer streaming an
 * endless body costs a reset, not the process's memory.
 */
import { Data, Effect } from "effect"
import { Agent, errors as undiciErrors } from "undici"
import type { Dispatcher } from "undici"
import {
  HTTP_CONNECT_TIMEOUT_MS,
  HTTP_KEEP_ALIVE_MAX_MS,
  HTTP_KEEP_ALIVE_MS,
  HTTP_POOL_CONNECTIONS_PER_ORIGIN,
  IICP_VERSION_HEADER_VALUE,
  MAX_RESPONSE_BODY_BYTES
} from "../constants.js"
import { scheduleOn } from "./clock.js"
import type { CancelTimer, ScheduleTimer } from "./clock.js"

/** A parsed HTTP answer. `body` is the parsed JSON, or `undefined` when the body was not JSON. */
export interface HttpResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly body: unknown
  readonly text: string
}

/** Why a request produced no HTTP answer. */
export class HttpFailure extends Data.TaggedError("HttpFailure")<{
  readonly reason: "connect" | "reset" | "timeout"
  readonly message: string
}> {}

/** What to send. `body` objects are serialised as JSON with `Content-Length`. */
export interface HttpRequest {
  readonly method: "GET" | "POST" | "DELETE" | "PUT"
  readonly url: string
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: unknown
  readonly timeoutMs: number
  /** Most response body bytes read; default {@link MAX_RESPONSE_BODY_BYTES}. A longer answer fails as `reset`. */
  readonly maxResponseBytes?: number
}

/** A keep-alive connection pool; one per client or node instance. `rejectUnauthorized: false` only where SDK-05 allows it. */
export const createAgent = (options: { readonly rejectUnauthorized?: boolean } = {}): Agent =>
  new Agent({
    keepAliveTimeout: HTTP_KEEP_ALIVE_MS,
    keepAliveMaxTimeout: HTTP_KEEP_ALIVE_MAX_MS,
    connections: HTTP_POOL_CONNECTIONS_PER_ORIGIN,
    // TLS 1.3 minimum towards directories and nodes (SEC-TLS-01); plain http is unaffected.
    connect: { timeout: HTTP_CONNECT_TIMEOUT_MS, minVersion: "TLSv1.3", ...(options.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}) }
  })

const headerRecord = (headers: Record<string, string | Array<string> | undefined>): Record<string, string | undefined> => {
  const out: Record<string, string | undefined> = {}
  for (const key in headers) {
    const value = headers[key]
    out[key] = Array.isArray(value) ? value.join(", ") : value
  }
  return out
}

/** The answer's JSON, or `undefined` when it is empty or not JSON. */
const parseJson = (text: string): unknown => {
  if (text.length === 0) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** The request's headers: JSON accept and version first, the caller's next, `Content-Type` when there is a body. */
const requestHeaders = (req: HttpRequest): Record<string, string> => {
  const headers: Record<string, string> = { accept: "application/json", "x-iicp-version": IICP_VERSION_HEADER_VALUE, ...req.headers }
  if (req.body !== undefined) headers["content-type"] = "application/json"
  return headers
}

const classify = (error: unknown): HttpFailure => {
  const code = (error as { code?: string } | null)?.code ?? ""
  if (error instanceof undiciErrors.ConnectTimeoutError) return new HttpFailure({ reason: "connect", message: "connect timeout" })
  if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|UND_ERR_CONNECT/.test(code)) {
    return new HttpFailure({ reason: "connect", message: `connect failed (${code})` })
  }
  return new HttpFailure({ reason: "reset", message: code ? `connection failed (${code})` : "connection failed" })
}

/** An HTTP answer or why there was none: what {@link startJsonRequest} reports. */
export type HttpOutcome = HttpResponse | HttpFailure

/** Aborts a request of {@link startJsonRequest}; a no-op once it has reported. */
export type AbortRequest = () => void

/**
 * Sends one request straight through the dispatcher and reports exactly once, from undici's own
 * callbacks: no response stream, no promise and no AbortSignal per request, which a client pays on
 * every attempt. The timeout is one timer of `schedule` (the Effect clock's); aborting, like the
 * timeout, resets the request on the wire.
 */
export const startJsonRequest = (
  dispatcher: Dispatcher,
  req: HttpRequest,
  schedule: ScheduleTimer,
  report: (outcome: HttpOutcome) => void
): AbortRequest => {
  let done = false
  let controller: Dispatcher.DispatchController | undefined
  let abortRequested = false
  const abort = () => {
    abortRequested = true
    controller?.abort(new undiciErrors.RequestAbortedError())
  }
  let cancelTimer: CancelTimer | undefined
  const settle = (outcome: HttpOutcome) => {
    if (done) return
    done = true
    cancelTimer?.()
    report(outcome)
  }
  const maxBytes = req.maxResponseBytes ?? MAX_RESPONSE_BODY_BYTES
  // Reported before the abort, so the abort's own error is not what gets reported.
  const tooLarge = (response: Dispatcher.DispatchController) => {
    settle(new HttpFailure({ reason: "reset", message: "response too large" }))
    response.abort(new undiciErrors.RequestAbortedError())
  }
  let status = 0
  let headers: Record<string, string | undefined> = {}
  let chunks: Array<Buffer> = []
  let received = 0
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart: (started) => {
      controller = started
      // Aborted while queued in the pool: abort as soon as there is something to abort.
      if (abortRequested) abort()
    },
    onResponseStart: (response, statusCode, responseHeaders) => {
      status = statusCode
      headers = headerRecord(responseHeaders)
      chunks = []
      received = 0
      // A declared length over the cap fails before any of the body is read.
      if (Number(headers["content-length"]) > maxBytes) tooLarge(response)
    },
    onResponseData: (response, chunk) => {
      if (done) return
      received += chunk.length
      if (received > maxBytes) tooLarge(response)
      else chunks.push(chunk)
    },
    onResponseEnd: () => {
      const text = chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8")
      settle({ status, headers, body: parseJson(text), text })
    },
    onResponseError: (_controller, error) => settle(classify(error))
  }
  try {
    const url = new URL(req.url)
    dispatcher.dispatch(
      {
        origin: url.origin,
        path: url.pathname + url.search,
        method: req.method,
        headers: requestHeaders(req),
        body: req.body === undefined ? null : JSON.stringify(req.body)
      },
      handler
    )
  } catch (error) {
    settle(classify(error))
  }
  // Armed once the request is out (it may have failed already); settled before the abort, so the
  // abort's own error is not what gets reported.
  if (!done) {
    cancelTimer = schedule(() => {
      settle(new HttpFailure({ reason: "timeout", message: `no answer within ${req.timeoutMs} ms` }))
      abort()
    }, req.timeoutMs)
  }
  return () => {
    if (done) return
    done = true
    cancelTimer?.()
    abort()
  }
}

/**
 * Sends one request and parses the answer. Fails with {@link HttpFailure} when no HTTP answer came
 * (connect error, reset, or `timeoutMs` elapsed on the Effect clock). Interruption aborts the request.
 */
export const httpJson = (dispatcher: Dispatcher, req: HttpRequest): Effect.Effect<HttpResponse, HttpFailure> =>
  Effect.flatMap(Effect.runtime<never>(), (runtime) =>
    Effect.async<HttpResponse, HttpFailure>((resume) => {
      const abort = startJsonRequest(dispatcher, req, scheduleOn(runtime), (outcome) =>
        resume(outcome instanceof HttpFailure ? Effect.fail(outcome) : Effect.succeed(outcome))
      )
      return Effect.sync(abort)
    })
  )
