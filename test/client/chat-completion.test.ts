/**
 * The hand-written chat completion reader against the Schema it stands in for: over arbitrary and
 * near-valid results, it accepts exactly what `WireSchema.ChatCompletion` decodes, with the same defaults.
 */
import { Either, Schema } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { readCompletion } from "../../src/client/chat.js"
import { WireSchema } from "../../src/protocol/index.js"

const decode = Schema.decodeUnknownEither(WireSchema.ChatCompletion)

/** A member that is absent, well-typed, or of some other JSON type. */
const member = <A>(valid: fc.Arbitrary<A>) =>
  fc.option(fc.oneof(valid, valid, fc.constant(null), fc.integer(), fc.string(), fc.constant([]), fc.constant({})), { nil: undefined })

const withMembers = (members: Record<string, fc.Arbitrary<unknown>>) =>
  fc.record(members).map((record) => Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)))

const message = withMembers({ role: member(fc.constantFrom("assistant", "tool")), content: member(fc.string()), extra: member(fc.string()) })
const choice = withMembers({ index: member(fc.nat()), message: member(message), finish_reason: member(fc.constantFrom("stop", "length")) })
const usage = withMembers({ prompt_tokens: member(fc.nat()), completion_tokens: member(fc.nat()), total_tokens: member(fc.nat()) })
const nearlyValid = withMembers({
  id: member(fc.string()),
  object: member(fc.constant("chat.completion")),
  created: member(fc.nat()),
  model: member(fc.string()),
  choices: member(fc.array(fc.oneof(choice, choice, choice, fc.constant(null), fc.string()), { maxLength: 3 })),
  usage: member(usage),
  system_fingerprint: member(fc.string())
})

/** What toChatResponse takes from a decoded completion. */
const partsOf = (completion: WireSchema.ChatCompletion) => ({
  choices: completion.choices.map((c) => ({
    index: c.index,
    message: { role: c.message.role, content: c.message.content ?? "" },
    finish_reason: c.finish_reason ?? "stop"
  })),
  usage: completion.usage,
  model: completion.model
})

const agrees = (result: unknown) => {
  const decoded = decode(result)
  const read = readCompletion(result)
  if (Either.isLeft(decoded)) expect(read).toBeUndefined()
  else expect(read).toEqual(partsOf(decoded.right))
}

describe("readCompletion", () => {
  it("accepts exactly what the ChatCompletion Schema decodes, near-valid results included", () => {
    fc.assert(fc.property(nearlyValid, agrees), { numRuns: 3_000 })
  })

  it("agrees with the Schema on arbitrary JSON", () => {
    fc.assert(fc.property(fc.jsonValue(), agrees), { numRuns: 1_000 })
  })

  it("applies §4.5's defaults to a bare choice", () => {
    expect(readCompletion({ choices: [{}] })).toEqual({
      choices: [{ index: 0, message: { role: "assistant", content: "" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
      model: undefined
    })
  })
})
