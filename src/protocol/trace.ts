/** W3C trace context (WIRE.md §2.3). */
import { randomFillSync } from "node:crypto"

const TRACEPARENT_PATTERN = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

const ALL_ZERO = /^0+$/

const TRACE_ID_BYTES = 24
/** CSPRNG bytes drawn in batches (as `randomUUID` does): one refill serves 128 traceparents. */
const POOL = Buffer.alloc(TRACE_ID_BYTES * 128)
let poolOffset = POOL.length

const nextRandomHex = (): string => {
  if (poolOffset === POOL.length) {
    randomFillSync(POOL)
    poolOffset = 0
  }
  const hex = POOL.toString("hex", poolOffset, poolOffset + TRACE_ID_BYTES)
  poolOffset += TRACE_ID_BYTES
  return hex
}

/** A fresh `00-<trace-id>-<parent-id>-01` from a CSPRNG, never with all-zero ids. */
export const newTraceparent = (): string => {
  for (;;) {
    const hex = nextRandomHex()
    const traceId = hex.slice(0, 32)
    const parentId = hex.slice(32)
    if (!ALL_ZERO.test(traceId) && !ALL_ZERO.test(parentId)) return `00-${traceId}-${parentId}-01`
  }
}

/** Whether a received value is an acceptable traceparent (TRACE-04); malformed values are ignored, never errors. */
export const isValidTraceparent = (value: unknown): value is string => {
  if (typeof value !== "string") return false
  const m = TRACEPARENT_PATTERN.exec(value)
  if (!m) return false
  return m[1] !== "ff" && !ALL_ZERO.test(m[2]!) && !ALL_ZERO.test(m[3]!)
}
