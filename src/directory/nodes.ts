/** `GET /v1/me`, `GET /v1/node/{id}` and `GET /v1/bootstrap` (§6.6). */
import { Clock, Effect } from "effect"
import { DEFAULT_BOOTSTRAP_LIMIT, MAX_BOOTSTRAP_LIMIT, NODE_LIVENESS_WINDOW_MS } from "../constants.js"
import type { Handler } from "./api.js"
import { authenticateNode } from "./auth.js"
import { clampedLimit } from "./discover.js"
import { DirectoryRefusal } from "./errors.js"
import { isoSeconds, projectNode } from "./projection.js"
import { loadTerm, roundScore, scoreNode } from "./scoring.js"

/** `GET /v1/me` (DIR-ADDR-04): the caller's current observed address only (DIR-ADDR-07). */
export const me: Handler = (request, context) =>
  Effect.gen(function* () {
    const node = yield* authenticateNode(request, context, yield* request.body)
    return { status: 200, body: { node_id: node.node_id, observed_source_ip: node.observed_source_ip, endpoint: node.endpoint } }
  })

/** `GET /v1/node/{id}` (DIR-NODE-01/02): the projection with every capability, scored without a query. */
export const nodeDetail =
  (nodeId: string): Handler =>
  (_request, context) =>
    Effect.gen(function* () {
      const node = yield* context.store.getNode(nodeId)
      if (!node) return yield* new DirectoryRefusal({ reason: "not_found", message: "node not registered" })
      const now = yield* Clock.currentTimeMillis
      const models = node.capabilities.flatMap((c) => c.models)
      return { status: 200, body: projectNode(node, node.capabilities, scoreNode(node, models, {}, now), node.available) }
    })

/** `GET /v1/bootstrap?limit=N` (DIR-BS-01/02): peers seen within 90 s, freshest first. */
export const bootstrap: Handler = (request, context) =>
  Effect.gen(function* () {
    const limit = clampedLimit(request.query.get("limit"), "limit", DEFAULT_BOOTSTRAP_LIMIT, MAX_BOOTSTRAP_LIMIT)
    if (limit instanceof DirectoryRefusal) return yield* limit
    const now = yield* Clock.currentTimeMillis
    const peers = (yield* context.store.allNodes)
      .filter((node) => node.last_seen_ms >= now - NODE_LIVENESS_WINDOW_MS && node.liveness === "verified")
      .sort((a, b) => b.last_seen_ms - a.last_seen_ms || (a.node_id < b.node_id ? -1 : 1))
      .slice(0, limit)
      .map((node) => ({
        node_id: node.node_id,
        endpoint: node.endpoint,
        region: node.region,
        last_seen: isoSeconds(node.last_seen_ms),
        relay_capable: node.relay_capable,
        ...(node.relay_capable ? { relay_accept_port: node.relay_accept_port } : {}),
        load: loadTerm(node),
        reputation_score: roundScore(node.reputation)
      }))
    return { status: 200, body: { peers, count: peers.length } }
  })
