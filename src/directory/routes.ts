/**
 * The route table (§6.2). Paths are matched after every leading `/api` segment is stripped, so
 * `/v1/…`, `/api/v1/…` and the Rust SDK 0.2's `/api/api/v1/…` all land here.
 */
import { Effect } from "effect"
import { DIRECTORY_VERSION } from "../constants.js"
import type { Handler } from "./api.js"
import { requireNodeCredential } from "./auth.js"
import { probe } from "./dial-back.js"
import { discover } from "./discover.js"
import { DirectoryRefusal } from "./errors.js"
import { deregister, heartbeat } from "./heartbeat.js"
import { bootstrap, me, nodeDetail } from "./nodes.js"
import { register } from "./register.js"
import { consumerToken, directoryKey, relayTicket } from "./signing.js"

type Method = "GET" | "POST" | "DELETE"

/** Handlers of one path by method. */
export type RouteMethods = Partial<Record<Method, Handler>>

const health: Handler = () => Effect.succeed({ status: 200, body: { ok: true, version: DIRECTORY_VERSION } })

const notImplemented = (what: string): Handler => () =>
  Effect.fail(new DirectoryRefusal({ reason: "not_implemented", message: `${what} is not implemented by this directory` }))

/** Credits and telemetry (DIR-CRED-01..03, DIR-TEL-01): 401 without a valid node credential, else 501. */
const credentialThenNotImplemented =
  (what: string): Handler =>
  (request, context) =>
    Effect.gen(function* () {
      yield* requireNodeCredential(request, context, yield* request.body)
      return yield* notImplemented(what)(request, context)
    })

/** `POST /v1/audit-report` (optional): accepted from an authenticated node, not retained. */
const auditReport: Handler = (request, context) =>
  Effect.gen(function* () {
    const node = yield* requireNodeCredential(request, context, yield* request.body)
    context.logger.info("audit report received", { node_id: node.node_id })
    return { status: 202, body: { accepted: true } }
  })

const STATIC_ROUTES: ReadonlyMap<string, RouteMethods> = new Map<string, RouteMethods>([
  ["/health", { GET: health }],
  ["/iicp/health", { GET: health }],
  ["/v1/register", { POST: register, DELETE: deregister }],
  ["/v1/heartbeat", { POST: heartbeat }],
  ["/v1/discover", { GET: discover }],
  ["/v1/me", { GET: me }],
  ["/v1/bootstrap", { GET: bootstrap }],
  ["/v1/probe", { GET: probe }],
  ["/v1/directory-key", { GET: directoryKey }],
  ["/v1/consumer-token", { POST: consumerToken }],
  ["/v1/relay/ticket", { POST: relayTicket }],
  ["/v1/dispatch/ticket", { POST: notImplemented("dispatch tickets") }],
  ["/v1/credits/balance", { GET: credentialThenNotImplemented("credits") }],
  ["/v1/credits/transactions", { GET: credentialThenNotImplemented("credits") }],
  ["/v1/credits/award", { POST: credentialThenNotImplemented("credits") }],
  ["/v1/telemetry", { POST: credentialThenNotImplemented("telemetry") }],
  ["/v1/audit-report", { POST: auditReport }]
])

const NODE_DETAIL = /^\/v1\/node\/([^/]+)$/

/** Strips every leading `/api` segment (§6.1). */
export const apiPath = (path: string): string => {
  let out = path
  while (out === "/api" || out.startsWith("/api/")) out = out.slice(4) || "/"
  return out
}

/** The handlers for a path, or `undefined` when no route matches (404). */
export const routeOf = (path: string): RouteMethods | undefined => {
  const fixed = STATIC_ROUTES.get(path)
  if (fixed) return fixed
  const nodeId = decodedSegment(NODE_DETAIL.exec(path)?.[1])
  return nodeId === undefined ? undefined : { GET: nodeDetail(nodeId) }
}

const decodedSegment = (segment: string | undefined): string | undefined => {
  if (segment === undefined) return undefined
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}
