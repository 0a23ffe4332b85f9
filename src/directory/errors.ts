/**
 * Why the directory refused a request. Each reason maps to one HTTP status and §3.2 code, so the
 * handlers say what went wrong and the server alone decides how it looks on the wire.
 */
import { Data } from "effect"
import { retryHint } from "../protocol/envelope.js"
import type { EnvelopeExtras } from "../protocol/envelope.js"

/** Every way a directory request can be refused. */
export type RefusalReason =
  | "malformed_json"
  | "validation"
  | "policy"
  | "unroutable"
  | "liveness_failed"
  | "unauthorized"
  | "endpoint_owned"
  | "key_owned"
  | "not_found"
  | "method_not_allowed"
  | "too_large"
  | "rate_limited"
  | "not_configured"
  | "not_implemented"

/** A refused request; `message` is shown to the caller, so it never holds tokens, paths or payloads. */
export class DirectoryRefusal extends Data.TaggedError("DirectoryRefusal")<{
  readonly reason: RefusalReason
  readonly message: string
  readonly retryAfterMs?: number
  /** Overrides the reason's usual `iicp_code` (register's 429 carries `IICP-E034`). */
  readonly iicpCode?: string
}> {}

interface WireForm {
  readonly status: number
  readonly code: string
  readonly iicpCode?: string
}

const WIRE_FORMS: Readonly<Record<RefusalReason, WireForm>> = {
  malformed_json: { status: 400, code: "validation_error" },
  validation: { status: 422, code: "validation_error" },
  policy: { status: 422, code: "IICP-POLICY-001" },
  unroutable: { status: 422, code: "IICP-E035" },
  liveness_failed: { status: 422, code: "liveness_failed", iicpCode: "IICP-E036" },
  unauthorized: { status: 401, code: "unauthorized" },
  endpoint_owned: { status: 403, code: "forbidden", iicpCode: "IICP-E050" },
  key_owned: { status: 403, code: "forbidden", iicpCode: "IICP-E049" },
  not_found: { status: 404, code: "not_found" },
  method_not_allowed: { status: 405, code: "method_not_allowed" },
  too_large: { status: 413, code: "payload_too_large" },
  rate_limited: { status: 429, code: "rate_limited" },
  not_configured: { status: 503, code: "not_configured" },
  not_implemented: { status: 501, code: "not_implemented" }
}

/** Status, envelope extras and headers (`Retry-After` in whole seconds, see `retryHint`) for a refusal. */
export const wireFormOf = (
  refusal: DirectoryRefusal
): { readonly status: number; readonly code: string; readonly extras: EnvelopeExtras; readonly headers: Record<string, string> } => {
  const form = WIRE_FORMS[refusal.reason]
  const code = refusal.iicpCode ?? form.iicpCode
  const codeExtras = code ? { iicp_code: code } : {}
  if (refusal.retryAfterMs === undefined) return { status: form.status, code: form.code, extras: codeExtras, headers: {} }
  const hint = retryHint(refusal.retryAfterMs)
  return { status: form.status, code: form.code, extras: { ...codeExtras, ...hint.extras }, headers: hint.headers }
}

/** The directory could not start: bad options, a port that cannot be bound, or an unreadable data directory. */
export class DirectoryStartError extends Data.TaggedError("DirectoryStartError")<{
  readonly reason: "invalid_options" | "address_in_use" | "permission_denied" | "listen_failed" | "store_unreadable"
  readonly message: string
}> {}
