/**
 * The directory's Ed25519 key (§6.7): created on first start and kept in the store, published at
 * `GET /v1/directory-key`, and used for consumer tokens (aud = target node, exp = iat + 300) and
 * relay bind tickets (exp = iat + 120).
 */
import { randomBytes } from "node:crypto"
import { Clock, Effect } from "effect"
import { CONSUMER_TOKEN_TTL_S, RELAY_TICKET_DOMAIN, RELAY_TICKET_TTL_S } from "../constants.js"
import { generateSigningKeyPair, signToken } from "../protocol/consumer-token.js"
import type { SigningKeyPair } from "../protocol/consumer-token.js"
import { isRecord } from "../protocol/json.js"
import { isValidIntent } from "../protocol/urn.js"
import type { Handler } from "./api.js"
import { authenticateNode } from "./auth.js"
import { DirectoryRefusal } from "./errors.js"
import { isoSeconds } from "./projection.js"
import type { DirectoryStoreApi } from "./store/types.js"

const JTI_BYTES = 16

/** The stored key pair, or a new one saved for next time. */
export const loadOrCreateSigningKey = (store: DirectoryStoreApi): Effect.Effect<SigningKeyPair> =>
  Effect.flatMap(store.getSigningKey, (existing) => {
    if (existing) return Effect.succeed(existing)
    const created = generateSigningKeyPair()
    return Effect.as(store.putSigningKey(created), created)
  })

/** `GET /v1/directory-key`. */
export const directoryKey: Handler = (_request, context) =>
  Effect.succeed({ status: 200, body: { public_key: context.signingKey.publicKeyHex, algorithm: "ed25519" } })

const bodyField = (body: unknown, key: string): unknown => (isRecord(body) ? body[key] : undefined)

/** `POST /v1/consumer-token`: 404 for an unknown target, 429 past 60 per minute per caller. */
export const consumerToken: Handler = (request, context) =>
  Effect.gen(function* () {
    const body = yield* request.body
    const caller = yield* authenticateNode(request, context, body)
    const target = bodyField(body, "target_node_id")
    const intent = bodyField(body, "intent") ?? "*"
    if (typeof target !== "string" || target === "") {
      return yield* new DirectoryRefusal({ reason: "validation", message: "target_node_id is required" })
    }
    if (intent !== "*" && !isValidIntent(intent)) {
      return yield* new DirectoryRefusal({ reason: "validation", message: "intent must be a valid intent URN or *" })
    }
    const nowMs = yield* Clock.currentTimeMillis
    const decision = context.limits.consumerToken.take(caller.node_id, nowMs)
    if (!decision.allowed) {
      return yield* new DirectoryRefusal({ reason: "rate_limited", message: "consumer token rate limit", retryAfterMs: decision.retryAfterMs })
    }
    if (!(yield* context.store.getNode(target))) return yield* new DirectoryRefusal({ reason: "not_found", message: "target node not registered" })
    const iat = Math.floor(nowMs / 1000)
    const exp = iat + CONSUMER_TOKEN_TTL_S
    const claims = { v: 1, iss: context.publicUrl, sub: caller.node_id, aud: target, intent, iat, exp }
    return {
      status: 201,
      body: {
        token: signToken(claims, context.signingKey.privateKeyHex),
        expires_at: isoSeconds(exp * 1000),
        caller_node_id: caller.node_id,
        target_node_id: target,
        intent
      }
    }
  })

/** `POST /v1/relay/ticket` (optional endpoint): a bind ticket for the caller as worker. */
export const relayTicket: Handler = (request, context) =>
  Effect.gen(function* () {
    const body = yield* request.body
    const worker = yield* authenticateNode(request, context, body)
    const relay = bodyField(body, "relay_node_id") ?? "*"
    if (typeof relay !== "string" || relay === "") {
      return yield* new DirectoryRefusal({ reason: "validation", message: "relay_node_id must be a node id" })
    }
    const iat = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    const exp = iat + RELAY_TICKET_TTL_S
    const claims = {
      v: 1,
      typ: "relay-bind-ticket",
      iss: context.publicUrl,
      sub: worker.node_id,
      aud: relay,
      jti: randomBytes(JTI_BYTES).toString("hex"),
      iat,
      exp
    }
    return {
      status: 201,
      body: {
        ticket: signToken(claims, context.signingKey.privateKeyHex, RELAY_TICKET_DOMAIN),
        expires_at: isoSeconds(exp * 1000),
        worker_node_id: worker.node_id,
        relay_node_id: relay,
        algorithm: "ed25519"
      }
    }
  })
