/**
 * RFC 8785 (JCS) canonical JSON, for the idempotency fingerprint (WIRE.md §5.6). ECMAScript's own
 * number and string serialisation is what JCS specifies; members are sorted by UTF-16 code units.
 */

/** The canonical serialisation of a parsed JSON value. */
export const canonicalJson = (value: unknown): string => {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value)
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError("non-finite number in JSON")
    return JSON.stringify(value)
  }
  if (Array.isArray(value)) {
    let out = "["
    for (let i = 0; i < value.length; i++) out += (i === 0 ? "" : ",") + canonicalJson(value[i])
    return out + "]"
  }
  if (typeof value === "object") {
    const record = value as Record<string, unknown>
    // Default sort compares UTF-16 code units, as RFC 8785 §3.2.3 requires.
    const keys = Object.keys(record).sort()
    let out = "{"
    for (const key of keys) {
      const member = record[key]
      if (member === undefined) continue
      out += (out.length === 1 ? "" : ",") + JSON.stringify(key) + ":" + canonicalJson(member)
    }
    return out + "}"
  }
  throw new TypeError(`not a JSON value: ${typeof value}`)
}
