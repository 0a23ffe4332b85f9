import { readFileSync } from "node:fs"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { RISK_RULES } from "../../src/protocol/risk-taxonomy.js"
import { checkIntent, isValidIntent, refusedRiskCategory } from "../../src/protocol/urn.js"

const vectors = JSON.parse(readFileSync(new URL("../../specs/wire-vectors.json", import.meta.url), "utf8"))
const registry = JSON.parse(readFileSync(new URL("../../specs/intents.json", import.meta.url), "utf8"))
const taxonomy = JSON.parse(readFileSync(new URL("../../specs/intent-risk-taxonomy.json", import.meta.url), "utf8"))

describe("intent URN (WIRE §2.1)", () => {
  it.each(vectors.intents.valid as string[])("accepts %s", (urn) => expect(isValidIntent(urn)).toBe(true))
  it.each(vectors.intents.invalid as string[])("rejects %j", (urn) => expect(isValidIntent(urn)).toBe(false))

  it("accepts every intent of the registry", () => {
    const urns = (registry.intents as Array<{ urn: string }>).map((i) => i.urn)
    expect(urns.length).toBeGreaterThan(10)
    for (const urn of urns) expect(isValidIntent(urn), urn).toBe(true)
  })

  it("rejects anything over 255 characters with reason too_long", () => {
    const urn = `urn:iicp:intent:${"a".repeat(250)}:v1`
    expect(isValidIntent(urn)).toBe(false)
    expect(checkIntent(urn)?.reason).toBe("too_long")
  })

  it("never accepts a URN containing +, a control character or upper case", () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const urn = `urn:iicp:intent:llm:${s}:v1`
        if (isValidIntent(urn)) {
          // eslint-disable-next-line no-control-regex
          expect(urn).not.toMatch(/[+A-Z\u0000-\u001f\u007f]/)
        }
      })
    )
  })

  it("applies the risk policy of specs/intent-risk-taxonomy.json", () => {
    for (const [urn, category] of Object.entries(vectors.intents.policy as Record<string, string | null>)) {
      expect(refusedRiskCategory(urn) ?? null).toBe(category)
    }
    expect(checkIntent("urn:iicp:intent:social-scoring:score:v1")?.reason).toBe("policy")
    expect(checkIntent("urn:iicp:intent:llm:chat:v1")).toBeUndefined()
  })

  it("embeds exactly the taxonomy's rules", () => {
    expect(RISK_RULES).toEqual(
      (taxonomy.rules as Array<{ category: string; rule_id: string; fragments: string[] }>).map(({ category, rule_id, fragments }) => ({
        category,
        rule_id,
        fragments
      }))
    )
  })
})
