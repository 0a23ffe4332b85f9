/**
 * `POST /v1/register` (§6.3): rate limit, parse, routability, liveness, ownership, a new token,
 * the observed source address, and the ACK.
 */
import { randomBytes, randomUUID } from "node:crypto"
import { isDeepStrictEqual } from "node:util"
import { Clock, Effect } from "effect"
import {
  ADDRESS_HISTORY_RETENTION_MS,
  DEFERRED_PROBE_DELAY_MS,
  INITIAL_REPUTATION,
  NODE_HMAC_KEY_BYTES
} from "../constants.js"
import type { DirectoryContext, Handler } from "./api.js"
import { tokenIsCurrent } from "./auth.js"
import { vetHost } from "./address-guard.js"
import { DirectoryRefusal } from "./errors.js"
import { parseRegisterBody } from "./register-body.js"
import type { RegisterRequest } from "./register-body.js"
import type { LivenessState, NodeRecord } from "./store/types.js"
import { hashToken, newNodeToken } from "./tokens.js"

const CONCRETE_NAT_TYPES = new Set(["full_cone", "restricted_cone", "port_restricted", "symmetric"])

/** RT-04: no liveness probe when the NAT type is concrete and a transport method is given. */
const skipsProbe = (request: RegisterRequest): boolean =>
  request.nat_type !== undefined && CONCRETE_NAT_TYPES.has(request.nat_type) && (request.transport_method ?? "") !== ""

const addressFieldsChanged = (existing: NodeRecord, request: RegisterRequest): boolean =>
  existing.endpoint !== request.endpoint ||
  existing.transport_endpoint !== request.transport_endpoint ||
  existing.relay_endpoint !== request.relay_endpoint

/** Step 5: a changed address needs the current token or a dead old endpoint; a changed key needs the token. */
const checkOwnership = (context: DirectoryContext, existing: NodeRecord, request: RegisterRequest, clientIp: string) =>
  Effect.gen(function* () {
    const keyChanged = existing.cx_public_key !== undefined && !isDeepStrictEqual(existing.cx_public_key, request.cx_public_key)
    const addressChanged = addressFieldsChanged(existing, request)
    if (!keyChanged && !addressChanged) return
    const hasToken = yield* tokenIsCurrent(context, existing, request.current_node_token, clientIp)
    if (hasToken) return
    if (keyChanged) return yield* new DirectoryRefusal({ reason: "key_owned", message: "cx_public_key change needs current_node_token" })
    if (yield* context.liveness.isAlive(existing.endpoint)) {
      return yield* new DirectoryRefusal({ reason: "endpoint_owned", message: "node_id is owned by a live endpoint; send current_node_token" })
    }
  })

/** Probes a pending node until it answers: once after 3 s here, then at every heartbeat (see heartbeat). */
export const verifyLivenessLater = (context: DirectoryContext, nodeId: string, delayMs: number): void =>
  context.background(
    Effect.gen(function* () {
      if (delayMs > 0) yield* Effect.sleep(delayMs)
      const node = yield* context.store.getNode(nodeId)
      if (!node || node.liveness === "verified") return
      if (!(yield* context.liveness.isAlive(node.endpoint))) return
      // Save only if the node did not re-register meanwhile (same token, same endpoint).
      const current = yield* context.store.getNode(nodeId)
      if (current?.token_hash !== node.token_hash || current.endpoint !== node.endpoint) return
      yield* context.saveNode({ ...current, liveness: "verified" }, current)
      context.logger.info("liveness verified", { node_id: nodeId })
    })
  )

/** `POST /v1/register`. */
export const register: Handler = (request, context) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const decision = context.limits.register.take(request.clientIp, now)
    if (!decision.allowed) {
      return yield* new DirectoryRefusal({
        reason: "rate_limited",
        message: "registration rate limit",
        retryAfterMs: decision.retryAfterMs,
        iicpCode: "IICP-E034"
      })
    }
    const body = yield* request.body
    const registration = yield* parseRegisterBody(body)
    const guard = context.config.endpointGuard
    if (guard && !(yield* vetHost(new URL(registration.endpoint).hostname, guard))) {
      return yield* new DirectoryRefusal({ reason: "unroutable", message: "endpoint is not publicly routable" })
    }

    const nodeId = registration.node_id ?? randomUUID()
    const existing = yield* context.store.getNode(nodeId)
    const probed = context.config.liveness !== "off" && !skipsProbe(registration)
    if (probed && context.config.liveness === "strict" && !(yield* context.liveness.isAlive(registration.endpoint))) {
      return yield* new DirectoryRefusal({ reason: "liveness_failed", message: "endpoint /iicp/health did not answer 2xx" })
    }
    // Deferred: a re-registration at an endpoint already verified stays discoverable.
    const keepsVerifiedEndpoint = existing?.liveness === "verified" && existing.endpoint === registration.endpoint
    const liveness: LivenessState = probed && context.config.liveness === "deferred" && !keepsVerifiedEndpoint ? "pending" : "verified"
    if (existing) yield* checkOwnership(context, existing, registration, request.clientIp)

    const token = newNodeToken()
    const tokenHash = yield* hashToken(token)
    const { node_id: _id, current_node_token: _token, node_hmac_key: suppliedKey, ...fields } = registration
    const record: NodeRecord = {
      ...fields,
      node_id: nodeId,
      node_hmac_key: suppliedKey ?? randomBytes(NODE_HMAC_KEY_BYTES).toString("hex"),
      token_hash: tokenHash,
      registered_at_ms: now,
      last_seen_ms: now,
      available: true,
      liveness,
      reputation: existing?.reputation ?? INITIAL_REPUTATION,
      reputation_window_start_ms: existing?.reputation_window_start_ms ?? now,
      reputation_window_gain: existing?.reputation_window_gain ?? 0,
      metrics_batches: existing?.metrics_batches ?? [],
      observed_source_ip: request.clientIp,
      challenge_failures: existing?.challenge_failures ?? 0
    }
    yield* context.saveNode(record, existing)
    context.tokens.remember(nodeId, token, tokenHash)
    if (existing?.observed_source_ip !== request.clientIp) {
      yield* context.store.appendAddress(
        { node_id: nodeId, type: "register", ip: request.clientIp, at_ms: now },
        now - ADDRESS_HISTORY_RETENTION_MS
      )
    }
    if (liveness === "pending") verifyLivenessLater(context, nodeId, DEFERRED_PROBE_DELAY_MS)
    context.logger.info(existing ? "node re-registered" : "node registered", { node_id: nodeId, liveness })
    return {
      status: 201,
      body: {
        message_type: "ACK",
        node_id: nodeId,
        node_token: token,
        node_hmac_key: record.node_hmac_key,
        expires_at: null,
        directory: context.publicUrl,
        observed_source_ip: request.clientIp,
        recovered: existing !== undefined
      }
    }
  })
