/** W3C trace context (WIRE.md §2.3). */
import { randomBytes } from "node:crypto"

const TRACEPARENT_PATTERN = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

const nonZeroHex = (bytes: number): string => {
  for (;;) {
    const hex = randomBytes(bytes).toString("hex")
    if (!/^0+$/.test(hex)) return hex
  }
}

/** A fresh `00-<trace-id>-<parent-id>-01` from a CSPRNG, never with all-zero ids. */
export const newTraceparent = (): string => `00-${nonZeroHex(16)}-${nonZeroHex(8)}-01`

/** Whether a received value is an acceptable traceparent (TRACE-04); malformed values are ignored, never errors. */
export const isValidTraceparent = (value: unknown): value is string => {
  if (typeof value !== "string") return false
  const m = TRACEPARENT_PATTERN.exec(value)
  if (!m) return false
  return m[1] !== "ff" && !/^0+$/.test(m[2]!) && !/^0+$/.test(m[3]!)
}
