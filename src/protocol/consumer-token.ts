/**
 * Directory-signed tokens (WIRE.md §5.7, §6.7): `<b64url(payload JSON)>.<128 hex Ed25519 signature>`,
 * signed over `domain + payload_b64`. Used for consumer tokens and relay bind tickets.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from "node:crypto"
import type { KeyObject } from "node:crypto"
import { CONSUMER_TOKEN_CLOCK_SKEW_S, CONSUMER_TOKEN_DOMAIN } from "../constants.js"

const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex")
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex")

/** An Ed25519 key pair as hex strings (32-byte raw public key, 32-byte raw seed). */
export interface SigningKeyPair {
  readonly publicKeyHex: string
  readonly privateKeyHex: string
}

/** A fresh Ed25519 key pair. */
export const generateSigningKeyPair = (): SigningKeyPair => {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519")
  return {
    publicKeyHex: publicKey.export({ format: "der", type: "spki" }).subarray(-32).toString("hex"),
    privateKeyHex: privateKey.export({ format: "der", type: "pkcs8" }).subarray(-32).toString("hex")
  }
}

/** A public key object from 64 hex characters; `undefined` when malformed. */
export const publicKeyFromHex = (hex: string): KeyObject | undefined => {
  if (!/^[0-9a-f]{64}$/i.test(hex)) return undefined
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, Buffer.from(hex, "hex")]), format: "der", type: "spki" })
}

const privateKeyFromHex = (hex: string): KeyObject =>
  createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.from(hex, "hex")]), format: "der", type: "pkcs8" })

/** Claims of a consumer token. */
export interface ConsumerTokenClaims {
  readonly v: 1
  readonly iss: string
  readonly sub: string
  readonly aud: string
  readonly intent: string
  readonly iat: number
  readonly exp: number
}

/** Signs `claims` under `domain` with the raw private key. */
export const signToken = (claims: object, privateKeyHex: string, domain = CONSUMER_TOKEN_DOMAIN): string => {
  const payload = Buffer.from(JSON.stringify(claims)).toString("base64url")
  const signature = sign(null, Buffer.from(domain + payload, "utf8"), privateKeyFromHex(privateKeyHex)).toString("hex")
  return `${payload}.${signature}`
}

/** Why a token was refused; never shown to the caller (401 says nothing more). */
export type TokenRejection = "malformed" | "bad_signature" | "wrong_audience" | "wrong_intent" | "expired" | "bad_version"

/**
 * Verifies a consumer token for `nodeId` and `intent` at `nowSeconds` (§5.7): signature, `v`,
 * `aud`, `intent` (or `*`), and `now ≤ exp + 10 s`.
 */
export const verifyConsumerToken = (
  token: string,
  publicKey: KeyObject,
  expected: { readonly nodeId: string; readonly intent: string; readonly nowSeconds: number }
): { readonly ok: true; readonly claims: ConsumerTokenClaims } | { readonly ok: false; readonly reason: TokenRejection } => {
  const dot = token.lastIndexOf(".")
  if (dot <= 0) return { ok: false, reason: "malformed" }
  const payloadB64 = token.slice(0, dot)
  const sigHex = token.slice(dot + 1)
  if (!/^[0-9a-f]{128}$/i.test(sigHex) || !/^[A-Za-z0-9_-]+$/.test(payloadB64)) return { ok: false, reason: "malformed" }
  const valid = verify(null, Buffer.from(CONSUMER_TOKEN_DOMAIN + payloadB64, "utf8"), publicKey, Buffer.from(sigHex, "hex"))
  if (!valid) return { ok: false, reason: "bad_signature" }
  let claims: ConsumerTokenClaims
  try {
    claims = JSON.parse(Buffer.from(payloadB64, "base64url").toString("utf8")) as ConsumerTokenClaims
  } catch {
    return { ok: false, reason: "malformed" }
  }
  if (typeof claims !== "object" || claims === null || claims.v !== 1) return { ok: false, reason: "bad_version" }
  if (claims.aud !== expected.nodeId) return { ok: false, reason: "wrong_audience" }
  if (claims.intent !== "*" && claims.intent !== expected.intent) return { ok: false, reason: "wrong_intent" }
  if (typeof claims.exp !== "number" || expected.nowSeconds > claims.exp + CONSUMER_TOKEN_CLOCK_SKEW_S) {
    return { ok: false, reason: "expired" }
  }
  return { ok: true, claims }
}
