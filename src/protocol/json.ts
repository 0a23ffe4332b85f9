/** Small guards for parsed JSON, shared by every role. */

/** A plain JSON object (not null, not an array). */
export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** A non-empty string, or `undefined`. */
export const nonEmptyString = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined)
