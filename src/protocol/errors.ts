/**
 * Errors. Inside the runtime every failure is a tagged error (Effect style, `_tag` plus data);
 * at the Promise boundary they become one public {@link IicpError}. WIRE.md §3.
 */
import { Data } from "effect"
import { inspect } from "node:util"

/** Which part of the mesh raised an error (WIRE.md §3.2). */
export type Component = "directory" | "node" | "relay" | "proxy" | "sdk"

/** The intent failed the URN rule (§2.1) or the risk policy; raised before any I/O. */
export class InvalidIntent extends Data.TaggedError("InvalidIntent")<{
  readonly reason: "syntax" | "too_long" | "policy"
  readonly message: string
}> {}

/** The client or node was configured with a value out of range. */
export class InvalidConfig extends Data.TaggedError("InvalidConfig")<{
  readonly field: string
  readonly message: string
}> {}

/** A request the caller built is invalid (payload, constraints). */
export class InvalidRequest extends Data.TaggedError("InvalidRequest")<{
  readonly message: string
}> {}

/** The directory could not be reached or answered with something unusable. */
export class DirectoryUnavailable extends Data.TaggedError("DirectoryUnavailable")<{
  /** `circuit_open`: the client's breaker for the directory is open, so no request was sent (§4.2). */
  readonly reason: "transport" | "timeout" | "status" | "malformed" | "circuit_open"
  readonly status?: number
  readonly code?: string
  readonly message: string
}> {}

/** Discover gave no usable candidate (`IICP-E033`). */
export class NoNodesForIntent extends Data.TaggedError("NoNodesForIntent")<{
  readonly intent: string
}> {}

/** A node answered with an error status; `code` is the parsed §3.1 code. */
export class NodeRejected extends Data.TaggedError("NodeRejected")<{
  readonly nodeId: string
  readonly status: number
  readonly code: string
  readonly message: string
  readonly retryAfterMs?: number
}> {}

/** A node refused the task for capacity (429 `capacity_exceeded`): fail over at once. */
export class CapacityExceeded extends Data.TaggedError("CapacityExceeded")<{
  readonly nodeId: string
  readonly qosClass?: string
  readonly retryAfterMs?: number
}> {}

/** An attempt (`IICP-E003`) or the whole task deadline (`timeout`) ran out. */
export class Timeout extends Data.TaggedError("Timeout")<{
  readonly scope: "attempt" | "task"
  readonly nodeId?: string
  readonly afterMs: number
}> {}

/** Connect, DNS, TLS, reset or unreadable response (`IICP-E004`). */
export class Transport extends Data.TaggedError("Transport")<{
  readonly reason: "connect" | "reset" | "malformed_response"
  readonly nodeId?: string
  readonly message: string
}> {}

/** One failed attempt, as kept in {@link AllNodesFailed}. */
export interface AttemptRecord {
  readonly node_id: string
  readonly code: string
  readonly http_status?: number
}

/** Candidates existed but every attempt failed (`no_available_node`, or `timeout` when all timed out). */
export class AllNodesFailed extends Data.TaggedError("AllNodesFailed")<{
  readonly attempts: ReadonlyArray<AttemptRecord>
  readonly allTimedOut: boolean
  readonly last?: MeshError
}> {}

/** The caller aborted the task (AbortSignal or fiber interruption). */
export class Cancelled extends Data.TaggedError("Cancelled")<{
  readonly message: string
}> {}

/** Every error the client runtime can raise. */
export type MeshError =
  | InvalidIntent
  | InvalidConfig
  | InvalidRequest
  | DirectoryUnavailable
  | NoNodesForIntent
  | NodeRejected
  | CapacityExceeded
  | Timeout
  | Transport
  | AllNodesFailed
  | Cancelled

/** The `code` of an error as WIRE.md §3.2 names it. */
export const errorCode = (error: MeshError): string => {
  switch (error._tag) {
    case "InvalidIntent":
      return error.reason === "policy" ? "IICP-POLICY-001" : "IICP-E001"
    case "InvalidConfig":
      return "invalid_config"
    case "InvalidRequest":
      return "validation_error"
    case "DirectoryUnavailable":
      return error.code ?? (error.reason === "timeout" ? "IICP-E003" : error.reason === "transport" ? "IICP-E004" : "unavailable")
    case "NoNodesForIntent":
      return "IICP-E033"
    case "NodeRejected":
      return error.code
    case "CapacityExceeded":
      return "capacity_exceeded"
    case "Timeout":
      return error.scope === "task" ? "timeout" : "IICP-E003"
    case "Transport":
      return "IICP-E004"
    case "AllNodesFailed":
      return error.allTimedOut ? "timeout" : "no_available_node"
    case "Cancelled":
      return "cancelled"
  }
}

/** Codes a client may retry on another candidate (§3.2 "yes" rows, plus `IICP-E008`). */
const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  "not_found",
  "unknown_intent",
  "rate_limited",
  "capacity_exceeded",
  "unavailable",
  "task_timeout",
  "IICP-E030",
  "IICP-E031",
  "IICP-E039",
  "IICP-E003",
  "IICP-E004",
  "IICP-E008"
])

/** Whether a code is retryable on the next candidate (§3.2). */
export const isRetryableCode = (code: string): boolean => RETRYABLE_CODES.has(code)

const componentOf = (error: MeshError): Component => {
  switch (error._tag) {
    case "DirectoryUnavailable":
    case "NoNodesForIntent":
      return "directory"
    case "NodeRejected":
    case "CapacityExceeded":
    case "Transport":
      return "node"
    case "Timeout":
      return error.scope === "attempt" ? "node" : "sdk"
    default:
      return "sdk"
  }
}

const httpStatusOf = (error: MeshError): number | undefined => {
  switch (error._tag) {
    case "NodeRejected":
      return error.status
    case "CapacityExceeded":
      return 429
    case "DirectoryUnavailable":
      return error.status
    case "NoNodesForIntent":
    case "AllNodesFailed":
      return error._tag === "AllNodesFailed" && error.allTimedOut ? 504 : 503
    case "Timeout":
      return error.scope === "task" ? 504 : undefined
    case "InvalidIntent":
    case "InvalidRequest":
      return 422
    default:
      return undefined
  }
}

const messageOf = (error: MeshError): string => {
  switch (error._tag) {
    case "NoNodesForIntent":
      return `no node serves ${error.intent}`
    case "CapacityExceeded":
      return `node ${error.nodeId} at capacity`
    case "Timeout":
      return error.scope === "task" ? `task deadline of ${error.afterMs} ms exceeded` : `attempt timed out after ${error.afterMs} ms`
    case "AllNodesFailed":
      return `all ${error.attempts.length} attempts failed: ${error.attempts.map((a) => a.code).join(", ")}`
    default:
      return error.message
  }
}

/** Strings that must never appear in a public error (tokens). Replaced before an error leaves the runtime. */
export const redact = (text: string, secrets: ReadonlyArray<string>): string => {
  let out = text
  for (const secret of secrets) if (secret.length > 0) out = out.split(secret).join("[redacted]")
  // Bearer values a peer might echo back, whatever they are.
  return out.replace(/Bearer\s+[^\s"',;]+/gi, "Bearer [redacted]")
}

/** Options of {@link IicpError}. */
export interface IicpErrorInit {
  readonly code: string
  readonly message: string
  readonly httpStatus?: number | undefined
  readonly retryable?: boolean
  readonly component?: Component
  readonly cause?: unknown
  readonly attempts?: ReadonlyArray<AttemptRecord>
}

/**
 * The one public error of the Promise API. `code` follows WIRE.md §3.2; `retryable` tells whether
 * another candidate may succeed. Never carries a token: messages are redacted when built, and the
 * string, JSON and inspect forms show only the fields below.
 */
export class IicpError extends Error {
  override readonly name = "IicpError"
  readonly code: string
  readonly httpStatus: number | undefined
  readonly retryable: boolean
  readonly component: Component
  readonly attempts: ReadonlyArray<AttemptRecord> | undefined

  constructor(init: IicpErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause })
    this.code = init.code
    this.httpStatus = init.httpStatus
    this.retryable = init.retryable ?? isRetryableCode(init.code)
    this.component = init.component ?? "sdk"
    this.attempts = init.attempts
  }

  override toString(): string {
    return `IicpError [${this.code}]: ${this.message}`
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      httpStatus: this.httpStatus,
      retryable: this.retryable,
      component: this.component,
      ...(this.attempts ? { attempts: this.attempts } : {})
    }
  }

  [inspect.custom](): string {
    return `${this.toString()} ${JSON.stringify({ httpStatus: this.httpStatus, retryable: this.retryable, component: this.component })}`
  }
}

/** Turns a runtime error into the public error, scrubbing `secrets` from every message. */
export const toIicpError = (error: MeshError, secrets: ReadonlyArray<string> = []): IicpError => {
  const code = errorCode(error)
  const cause = error._tag === "AllNodesFailed" && error.last ? toIicpError(error.last, secrets) : undefined
  return new IicpError({
    code,
    message: redact(messageOf(error), secrets),
    httpStatus: httpStatusOf(error),
    retryable: error._tag === "Cancelled" || error._tag === "AllNodesFailed" ? false : isRetryableCode(code),
    component: componentOf(error),
    cause,
    ...(error._tag === "AllNodesFailed" ? { attempts: error.attempts } : {})
  })
}
