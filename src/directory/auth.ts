/**
 * Caller identification and node-token checks (§6.2, §6.4): caller id from body `node_id`, else
 * `X-Node-Id`, else query `node_id`; token from `Authorization: Bearer`, else body `node_token`
 * (the Rust SDK 0.2 sends only that). Unknown id → 404 before the token is looked at; wrong → 401.
 */
import { Clock, Effect } from "effect"
import { isRecord, nonEmptyString } from "../protocol/json.js"
import { headerOf } from "../runtime/http-server.js"
import type { ApiRequest, DirectoryContext } from "./api.js"
import { DirectoryRefusal } from "./errors.js"
import type { NodeRecord } from "./store/types.js"

const field = (body: unknown, key: string): string | undefined => nonEmptyString(isRecord(body) ? body[key] : undefined)

/** The caller's node id, or `undefined` when none was named. */
const callerIdOf = (request: ApiRequest, body: unknown): string | undefined =>
  field(body, "node_id") ?? headerOf(request.headers, "x-node-id") ?? (request.query.get("node_id") || undefined)

/** The presented node token: the Bearer value, or body `node_token` when there is no Authorization header. */
const presentedTokenOf = (request: ApiRequest, body: unknown): string | undefined => {
  const authorization = headerOf(request.headers, "authorization")
  if (authorization === undefined) return field(body, "node_token")
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
  return match?.[1]
}

const unauthorized = () => new DirectoryRefusal({ reason: "unauthorized", message: "missing or invalid node token" })

/**
 * Admits one slow (scrypt) token check for `nodeId` from `clientIp`, or refuses it 429 once the
 * node or the address has used its budget, so wrong tokens cannot keep the libuv pool busy.
 */
const admitSlowCheck = (context: DirectoryContext, nodeId: string, clientIp: string): Effect.Effect<void, DirectoryRefusal> =>
  Effect.flatMap(Clock.currentTimeMillis, (nowMs) => {
    const decision = context.limits.tokenCheckByIp.take(clientIp, nowMs)
    const verdict = decision.allowed ? context.limits.tokenCheckByNode.take(nodeId, nowMs) : decision
    return verdict.allowed
      ? Effect.void
      : Effect.fail(new DirectoryRefusal({ reason: "rate_limited", message: "too many node token checks", retryAfterMs: verdict.retryAfterMs }))
  })

/** Whether `token`, presented from `clientIp`, is the current token of `node`; 429 past the slow-check budget. */
export const tokenIsCurrent = (
  context: DirectoryContext,
  node: NodeRecord,
  token: string | undefined,
  clientIp: string
): Effect.Effect<boolean, DirectoryRefusal> =>
  token === undefined
    ? Effect.succeed(false)
    : context.tokens.verify(node.node_id, token, node.token_hash, admitSlowCheck(context, node.node_id, clientIp))

/**
 * The authenticated caller node: 422 without a caller id, 404 when unknown, 401 on a missing or
 * wrong token, 429 when the token would need a slow check past the budget.
 */
export const authenticateNode = (
  request: ApiRequest,
  context: DirectoryContext,
  body: unknown
): Effect.Effect<NodeRecord, DirectoryRefusal> =>
  Effect.gen(function* () {
    const nodeId = callerIdOf(request, body)
    if (nodeId === undefined) {
      return yield* new DirectoryRefusal({ reason: "validation", message: "node_id is required (body, X-Node-Id or query)" })
    }
    const node = yield* context.store.getNode(nodeId)
    if (!node) return yield* new DirectoryRefusal({ reason: "not_found", message: "node not registered" })
    if (!(yield* tokenIsCurrent(context, node, presentedTokenOf(request, body), request.clientIp))) return yield* unauthorized()
    return node
  })

/**
 * For routes where every failure is 401 (credits, telemetry, audit, DIR-CRED-01..03): the caller
 * must name a known node and present its current token. A 429 stays a 429.
 */
export const requireNodeCredential = (
  request: ApiRequest,
  context: DirectoryContext,
  body: unknown
): Effect.Effect<NodeRecord, DirectoryRefusal> =>
  authenticateNode(request, context, body).pipe(
    Effect.catchIf(
      (refusal) => refusal.reason !== "rate_limited",
      () => Effect.fail(unauthorized())
    )
  )
