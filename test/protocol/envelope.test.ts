import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { codeForStatus, errorEnvelope, parseErrorBody, parseRetryAfterHeader } from "../../src/protocol/envelope.js"

const vectors = JSON.parse(readFileSync(new URL("../../specs/wire-vectors.json", import.meta.url), "utf8"))

interface ErrorVector {
  name: string
  status: number
  body: unknown
  retryAfter?: string
  expect: Record<string, unknown>
}

describe("error envelope parsing (WIRE §3.1)", () => {
  it.each(vectors.errorBodies as ErrorVector[])("$name", (v) => {
    const parsed = parseErrorBody(v.status, v.body ?? undefined, v.retryAfter)
    expect(parsed).toMatchObject(v.expect)
  })

  it("reads Retry-After as seconds or an HTTP-date", () => {
    const now = Date.parse("2026-05-28T10:00:00Z")
    expect(parseRetryAfterHeader("2", now)).toBe(2000)
    expect(parseRetryAfterHeader("Thu, 28 May 2026 10:00:07 GMT", now)).toBe(7000)
    expect(parseRetryAfterHeader("soon", now)).toBeUndefined()
    expect(parseRetryAfterHeader(undefined, now)).toBeUndefined()
  })

  it("maps bare statuses", () => {
    expect(codeForStatus(504)).toBe("task_timeout")
    expect(codeForStatus(500)).toBe("http_500")
  })

  it("emits the nested form with iicp_code right after code", () => {
    const body = errorEnvelope("capacity_exceeded", "node at capacity", { iicp_code: "IICP-E021", qos_class: "batch", retry_after_ms: 2000 })
    expect(JSON.stringify(body)).toBe(
      '{"error":{"code":"capacity_exceeded","iicp_code":"IICP-E021","message":"node at capacity","qos_class":"batch","retry_after_ms":2000}}'
    )
    expect(parseErrorBody(429, body)).toMatchObject({ code: "capacity_exceeded", retryAfterMs: 2000, qosClass: "batch" })
  })
})
