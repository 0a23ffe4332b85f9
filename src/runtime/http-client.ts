/**
 * Outbound HTTP for every role: undici with keep-alive pools, JSON in and out, `Content-Length`
 * bodies (§1.2), and timeouts on Effect's clock so TestClock governs them. Interrupting the effect
 * aborts the request on the wire.
 */
import { Data, Effect } from "effect"
import { Agent, errors as undiciErrors, request } from "undici"
import type { Dispatcher } from "undici"
import { IICP_VERSION_HEADER_VALUE } from "../constants.js"
import { scheduleOn } from "./clock.js"

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
}

/** A keep-alive connection pool; one per client or node instance. `rejectUnauthorized: false` only where SDK-05 allows it. */
export const createAgent = (options: { readonly rejectUnauthorized?: boolean } = {}): Agent =>
  new Agent({
    keepAliveTimeout: 4_000,
    keepAliveMaxTimeout: 60_000,
    connections: 128,
    // TLS 1.3 minimum towards directories and nodes (SEC-TLS-01); plain http is unaffected.
    connect: { timeout: 10_000, minVersion: "TLSv1.3", ...(options.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}) }
  })

const headerRecord = (headers: Record<string, string | Array<string> | undefined>): Record<string, string | undefined> => {
  const out: Record<string, string | undefined> = {}
  for (const key in headers) {
    const value = headers[key]
    out[key] = Array.isArray(value) ? value.join(", ") : value
  }
  return out
}

const classify = (error: unknown): HttpFailure => {
  const code = (error as { code?: string } | null)?.code ?? ""
  if (error instanceof undiciErrors.ConnectTimeoutError) return new HttpFailure({ reason: "connect", message: "connect timeout" })
  if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|UND_ERR_CONNECT/.test(code)) {
    return new HttpFailure({ reason: "connect", message: `connect failed (${code})` })
  }
  return new HttpFailure({ reason: "reset", message: code ? `connection failed (${code})` : "connection failed" })
}

const send = async (dispatcher: Dispatcher, req: HttpRequest, signal: AbortSignal): Promise<HttpResponse> => {
  const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body))
  const headers: Record<string, string> = {
    accept: "application/json",
    "x-iicp-version": IICP_VERSION_HEADER_VALUE,
    ...req.headers
  }
  if (payload) {
    headers["content-type"] = "application/json"
    headers["content-length"] = String(payload.length)
  }
  const res = await request(req.url, { method: req.method, headers, body: payload ?? null, signal, dispatcher })
  const text = await res.body.text()
  let body: unknown
  if (text.length > 0) {
    try {
      body = JSON.parse(text)
    } catch {
      body = undefined
    }
  }
  return { status: res.statusCode, headers: headerRecord(res.headers), body, text }
}

/**
 * Sends one request and parses the answer. Fails with {@link HttpFailure} when no HTTP answer came
 * (connect error, reset, or `timeoutMs` elapsed on the Effect clock). The timeout is one timer on
 * the fiber's Clock rather than a race of two forked fibers: a client pays it on every attempt.
 */
export const httpJson = (dispatcher: Dispatcher, req: HttpRequest): Effect.Effect<HttpResponse, HttpFailure> =>
  Effect.flatMap(Effect.runtime<never>(), (runtime) =>
    Effect.async<HttpResponse, HttpFailure>((resume) => {
      const controller = new AbortController()
      // The fiber takes the first resume only: the request's rejection after a timeout abort is dropped.
      const cancelTimer = scheduleOn(runtime)(() => {
        controller.abort()
        resume(Effect.fail(new HttpFailure({ reason: "timeout", message: `no answer within ${req.timeoutMs} ms` })))
      }, req.timeoutMs)
      send(dispatcher, req, controller.signal).then(
        (res) => {
          cancelTimer()
          resume(Effect.succeed(res))
        },
        (error: unknown) => {
          cancelTimer()
          resume(Effect.fail(classify(error)))
        }
      )
      return Effect.sync(() => {
        cancelTimer()
        controller.abort()
      })
    })
  )
