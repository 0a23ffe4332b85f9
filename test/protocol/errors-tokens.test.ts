import { inspect } from "node:util"
import { describe, expect, it } from "vitest"
import { generateSigningKeyPair, publicKeyFromHex, signToken, verifyConsumerToken } from "../../src/protocol/consumer-token.js"
import { AllNodesFailed, IicpError, NodeRejected, Timeout, toIicpError } from "../../src/protocol/errors.js"

const TOKEN = "a".repeat(20) + "secret-node-token" + "b".repeat(20)

describe("IicpError", () => {
  it("never shows a secret in message, String, JSON or inspect", () => {
    const error = toIicpError(
      new NodeRejected({ nodeId: "n1", status: 401, code: "unauthorized", message: `token ${TOKEN} refused; Authorization: Bearer xyz123` }),
      [TOKEN]
    )
    for (const form of [error.message, String(error), JSON.stringify(error), inspect(error), inspect(error, { depth: 5 })]) {
      expect(form).not.toContain(TOKEN)
      expect(form).not.toContain("xyz123")
    }
    expect(error).toBeInstanceOf(IicpError)
    expect(error).toMatchObject({ code: "unauthorized", httpStatus: 401, retryable: false, component: "node" })
  })

  it("reports exhaustion as timeout only when every attempt timed out", () => {
    const timedOut = toIicpError(
      new AllNodesFailed({ attempts: [{ node_id: "a", code: "IICP-E003" }], allTimedOut: true, last: new Timeout({ scope: "attempt", afterMs: 10 }) })
    )
    expect(timedOut.code).toBe("timeout")
    expect(timedOut.cause).toBeInstanceOf(IicpError)
    const mixed = toIicpError(new AllNodesFailed({ attempts: [{ node_id: "a", code: "unavailable", http_status: 503 }], allTimedOut: false }))
    expect(mixed).toMatchObject({ code: "no_available_node", retryable: false, attempts: [{ node_id: "a", code: "unavailable", http_status: 503 }] })
  })
})

describe("consumer tokens (WIRE §5.7, §6.7)", () => {
  const keys = generateSigningKeyPair()
  const publicKey = publicKeyFromHex(keys.publicKeyHex)!
  const claims = { v: 1, iss: "http://dir", sub: "caller", aud: "node-1", intent: "urn:iicp:intent:llm:chat:v1", iat: 1000, exp: 1300 }
  const expected = { nodeId: "node-1", intent: "urn:iicp:intent:llm:chat:v1", nowSeconds: 1100 }

  it("has the <b64url>.<128 hex> form and verifies", () => {
    const token = signToken(claims, keys.privateKeyHex)
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[0-9a-f]{128}$/)
    expect(verifyConsumerToken(token, publicKey, expected)).toMatchObject({ ok: true, claims })
  })

  it("refuses tampering, other audiences, other intents and expiry beyond the 10 s skew", () => {
    const token = signToken(claims, keys.privateKeyHex)
    const forged = Buffer.from(JSON.stringify({ ...claims, aud: "node-2" })).toString("base64url") + token.slice(token.lastIndexOf("."))
    expect(verifyConsumerToken(forged, publicKey, { ...expected, nodeId: "node-2" })).toEqual({ ok: false, reason: "bad_signature" })
    expect(verifyConsumerToken(token, publicKey, { ...expected, nodeId: "node-2" })).toEqual({ ok: false, reason: "wrong_audience" })
    expect(verifyConsumerToken(token, publicKey, { ...expected, intent: "urn:iicp:intent:translate:v1" })).toEqual({ ok: false, reason: "wrong_intent" })
    expect(verifyConsumerToken(token, publicKey, { ...expected, nowSeconds: 1310 }).ok).toBe(true)
    expect(verifyConsumerToken(token, publicKey, { ...expected, nowSeconds: 1311 })).toEqual({ ok: false, reason: "expired" })
    expect(verifyConsumerToken("nodot", publicKey, expected)).toEqual({ ok: false, reason: "malformed" })
    const other = generateSigningKeyPair()
    expect(verifyConsumerToken(signToken(claims, other.privateKeyHex), publicKey, expected)).toEqual({ ok: false, reason: "bad_signature" })
  })

  it("accepts the wildcard intent", () => {
    const token = signToken({ ...claims, intent: "*" }, keys.privateKeyHex)
    expect(verifyConsumerToken(token, publicKey, expected).ok).toBe(true)
  })
})
