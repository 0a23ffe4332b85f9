/** Intent URNs (WIRE.md §2.1): validation and the public-mesh risk policy. */
import { MAX_INTENT_URN_LENGTH } from "../constants.js"
import { InvalidIntent } from "./errors.js"
import { RISK_RULES } from "./risk-taxonomy.js"

const INTENT_PATTERN = /^urn:iicp:intent:[a-z0-9_.-]+(?::[a-z0-9_./-]+)*:v[1-9][0-9]*$/

/** The intent every chat uses. */
export const CHAT_INTENT = "urn:iicp:intent:llm:chat:v1"

/** Whether `urn` is a syntactically valid intent (§2.1): regex, no `+`, ≤ 255 chars, no control chars. */
export const isValidIntent = (urn: unknown): urn is string =>
  typeof urn === "string" &&
  urn.length <= MAX_INTENT_URN_LENGTH &&
  !urn.includes("+") &&
  // eslint-disable-next-line no-control-regex
  !/[\u0000-\u001f\u007f]/.test(urn) &&
  INTENT_PATTERN.test(urn)

/** The risk category a URN falls into, when a prohibited or high-risk rule matches. */
export const refusedRiskCategory = (urn: string): "prohibited" | "high_risk" | undefined => {
  for (const rule of RISK_RULES) {
    if ((rule.category === "prohibited" || rule.category === "high_risk") && rule.fragments.some((f) => urn.includes(f))) {
      return rule.category
    }
  }
  return undefined
}

/** Checks syntax then policy; the error says which failed. */
export const checkIntent = (urn: unknown): InvalidIntent | undefined => {
  if (typeof urn === "string" && urn.length > MAX_INTENT_URN_LENGTH) {
    return new InvalidIntent({ reason: "too_long", message: `intent longer than ${MAX_INTENT_URN_LENGTH} characters` })
  }
  if (!isValidIntent(urn)) return new InvalidIntent({ reason: "syntax", message: "intent is not a valid IICP intent URN" })
  const category = refusedRiskCategory(urn)
  if (category) return new InvalidIntent({ reason: "policy", message: `intent refused on the public mesh (${category})` })
  return undefined
}
