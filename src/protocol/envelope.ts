/**
 * The error envelope (WIRE.md §3.1): what servers emit, and how clients read the four shapes peers send.
 */
import { isRecord } from "./json.js"

/** A parsed error: code, message and the retry hint in milliseconds when one was given. */
export interface ParsedError {
  readonly code: string
  readonly message: string
  readonly retryAfterMs?: number
  readonly qosClass?: string
  readonly extras: Readonly<Record<string, unknown>>
}

const STATUS_CODES: Readonly<Record<number, string>> = {
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  413: "payload_too_large",
  422: "validation_error",
  429: "rate_limited",
  502: "backend_error",
  503: "unavailable",
  504: "task_timeout"
}

/** The code a bare HTTP status stands for (§3.1 rule 4). */
export const codeForStatus = (status: number): string => STATUS_CODES[status] ?? `http_${status}`

const numberOf = (value: unknown): number | undefined => {
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return value
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value)) && Number(value) >= 0) return Number(value)
  return undefined
}

/** Reads a `Retry-After` header: integer seconds or an HTTP-date; `now` in ms for the date form. */
export const parseRetryAfterHeader = (value: string | undefined, now: number): number | undefined => {
  if (value === undefined || value.trim() === "") return undefined
  const seconds = numberOf(value)
  if (seconds !== undefined) return Math.round(seconds * 1000)
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

const applyAliases = (code: string, status: number): string => {
  if (code === "IICP-E021") return "capacity_exceeded"
  if (code === "IICP-E034" || code === "IICP-E023" || (code === "IICP-E039" && status === 429)) return "rate_limited"
  if (code === "IICP-E010" || code === "IICP-E011") return "conflict"
  if (code === "IICP-E036") return "liveness_failed"
  if (code === "IICP-E006") return "IICP-E033"
  // IICP-E003 is read by status (Rust directory "not registered" vs reference timeout); a status synthesised as IICP-E<status> too.
  if (code === "IICP-E003" || code === `IICP-E${status}`) return codeForStatus(status)
  return code
}

/**
 * Parses an error body by §3.1's first-match rules; `body` is the parsed JSON or `undefined` when
 * the body was not JSON (HTML from the reference node).
 */
export const parseErrorBody = (status: number, body: unknown, retryAfterHeader?: string, now = Date.now()): ParsedError => {
  let code: string | undefined
  let message = ""
  let extras: Record<string, unknown> = {}
  if (isRecord(body)) {
    const error = body["error"]
    if (isRecord(error) && typeof error["code"] === "string") {
      code = error["code"]
      message = typeof error["message"] === "string" ? error["message"] : ""
      extras = error
    } else if (typeof error === "string") {
      code = error
      message = typeof body["message"] === "string" ? body["message"] : ""
      extras = body
    } else if (typeof body["code"] === "string") {
      code = body["code"]
      message = typeof body["message"] === "string" ? body["message"] : ""
      extras = body
    }
  }
  const resolved = applyAliases(code ?? codeForStatus(status), status)
  const hintSeconds = numberOf(extras["retry_after"])
  const retryAfterMs =
    numberOf(extras["retry_after_ms"]) ??
    (hintSeconds === undefined ? undefined : hintSeconds * 1000) ??
    parseRetryAfterHeader(retryAfterHeader, now)
  const qosClass = typeof extras["qos_class"] === "string" ? extras["qos_class"] : undefined
  return {
    code: resolved,
    message: message || `HTTP ${status}`,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    ...(qosClass === undefined ? {} : { qosClass }),
    extras
  }
}

/** Members an emitted envelope may carry beside code and message. */
export interface EnvelopeExtras {
  readonly iicp_code?: string
  readonly qos_class?: string
  readonly retry_after_ms?: number
  readonly retry_after?: number
  readonly reason?: string
}

/**
 * The retry hint of a 429/503 in every form a peer may read (§1.3, §3.1): `Retry-After` in whole
 * seconds (at least 1), and `retry_after` / `retry_after_ms` in the body, consistent with the header.
 */
export const retryHint = (retryAfterMs: number): { readonly extras: { retry_after: number; retry_after_ms: number }; readonly headers: { "retry-after": string } } => {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000))
  return { extras: { retry_after: seconds, retry_after_ms: seconds * 1000 }, headers: { "retry-after": String(seconds) } }
}

/** The nested envelope every server of ours emits: `{"error": {code, message, ...}}`. */
export const errorEnvelope = (code: string, message: string, extras: EnvelopeExtras = {}): { error: Record<string, unknown> } => ({
  error: { code, ...(extras.iicp_code ? { iicp_code: extras.iicp_code } : {}), message, ...withoutIicpCode(extras) }
})

const withoutIicpCode = ({ iicp_code: _ignored, ...rest }: EnvelopeExtras): Record<string, unknown> => rest
