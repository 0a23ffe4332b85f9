/**
 * The node's calls to its directory (WIRE.md §5.2, §5.3): register, heartbeat, deregister. Each is
 * one HTTP exchange with the §1.4 5 s timeout (register: at most two, for the §4.1 `/api` fallback);
 * the registration machine decides when to call.
 */
import { Effect } from "effect"
import type { Dispatcher } from "undici"
import { DIRECTORY_CALL_TIMEOUT_MS, NODE_SDK_LANGUAGE, NODE_SDK_VERSION } from "../constants.js"
import { apiFallbackBase } from "../protocol/directory-url.js"
import { DirectoryUnavailable } from "../protocol/errors.js"
import { isRecord, nonEmptyString } from "../protocol/json.js"
import type { HttpFailure, HttpResponse } from "../runtime/http-client.js"
import { httpJson } from "../runtime/http-client.js"
import type { HeartbeatFailure, HeartbeatPong, RegisterAck } from "../../machines/node-registration.js"
import type { AdmissionSnapshot } from "./admission.js"
import { isAvailable } from "./admission.js"
import type { NodeConfig } from "./config.js"

/**
 * Fields other subsystems add to the register body (transport tier, relay, native lane, pricing):
 * the extension point for §5.2's optional members. Read at every register.
 */
export type RegisterExtras = () => Readonly<Record<string, unknown>>

/** The register body (§5.2). */
export const registerBody = (
  config: NodeConfig,
  endpoint: string,
  nodeId: string | undefined,
  currentNodeToken: string | undefined,
  extras: Readonly<Record<string, unknown>>
): Record<string, unknown> => ({
  ...extras,
  ...(nodeId === undefined ? {} : { node_id: nodeId }),
  endpoint,
  region: config.region,
  capabilities: config.intents.map((intent) => ({
    intent,
    models: config.models,
    ...(config.maxTokens === undefined ? {} : { max_tokens: config.maxTokens }),
    input_modalities: ["text"]
  })),
  limits: { max_concurrent: config.maxConcurrent, ...(config.tokensPerMin === undefined ? {} : { tokens_per_min: config.tokensPerMin }) },
  ...(config.availability.length === 0 ? {} : { availability: config.availability }),
  sdk_language: NODE_SDK_LANGUAGE,
  sdk_version: NODE_SDK_VERSION,
  ...(currentNodeToken === undefined ? {} : { current_node_token: currentNodeToken })
})

/** The heartbeat body (§5.3): `load` as `/iicp/health` reports it, `max_concurrent` the effective capacity. */
export const heartbeatBody = (nodeId: string | undefined, admission: AdmissionSnapshot, draining: boolean): Record<string, unknown> => ({
  node_id: nodeId,
  status: "available",
  available: isAvailable(admission, draining),
  load: admission.load,
  active_jobs: admission.active,
  max_concurrent: admission.effective
})

const failureOf = (error: HttpFailure): DirectoryUnavailable =>
  new DirectoryUnavailable({ reason: error.reason === "timeout" ? "timeout" : "transport", message: error.message })

const statusFailure = (res: HttpResponse): DirectoryUnavailable => {
  const error = (res.body as { error?: { code?: unknown } } | undefined)?.error
  const code = typeof error?.code === "string" ? error.code : undefined
  return new DirectoryUnavailable({ reason: "status", status: res.status, ...(code ? { code } : {}), message: `directory answered ${res.status}` })
}

/** A register ACK and the base that gave it, which every later directory call uses (§4.1). */
export interface Registered {
  readonly ack: RegisterAck
  readonly base: string
}

const registerOnce = (agent: Dispatcher, base: string, body: Record<string, unknown>): Effect.Effect<Registered, DirectoryUnavailable> =>
  httpJson(agent, { method: "POST", url: `${base}/v1/register`, body, timeoutMs: DIRECTORY_CALL_TIMEOUT_MS }).pipe(
    Effect.mapError(failureOf),
    Effect.flatMap((res) => {
      if (res.status < 200 || res.status > 299) return Effect.fail(statusFailure(res))
      const ack = isRecord(res.body) ? res.body : {}
      const nodeToken = nonEmptyString(ack["node_token"]) ?? nonEmptyString(ack["token"])
      if (nodeToken === undefined) return Effect.fail(new DirectoryUnavailable({ reason: "malformed", message: "register ACK without node_token" }))
      return Effect.succeed({
        base,
        ack: {
          nodeToken,
          nodeId: nonEmptyString(ack["node_id"]),
          nodeHmacKey: nonEmptyString(ack["node_hmac_key"]),
          observedSourceIp: nonEmptyString(ack["observed_source_ip"])
        }
      })
    })
  )

/**
 * `POST {base}/v1/register`; the ACK's token (or legacy `token`) is required. Register never answers
 * 404 on an existing route, so a 404 means a base without `/api`: the call is repeated once at
 * `${base}/api` (§4.1), and the result names the base that answered.
 */
export const postRegister = (agent: Dispatcher, base: string, body: Record<string, unknown>): Effect.Effect<Registered, DirectoryUnavailable> => {
  const fallback = apiFallbackBase(base)
  const first = registerOnce(agent, base, body)
  return fallback === undefined
    ? first
    : Effect.catchIf(first, (error) => error.reason === "status" && error.status === 404, () => registerOnce(agent, fallback, body))
}

/** The machine's view of a failed beat: 401/404/410 mean the registration is gone. */
export const heartbeatFailure = (error: DirectoryUnavailable): HeartbeatFailure =>
  error.reason === "timeout"
    ? { kind: "timeout" }
    : error.reason === "status" && error.status !== undefined
      ? { kind: "rejected", status: error.status }
      : { kind: "failed" }

/** `POST {base}/v1/heartbeat` with the node token. */
export const postHeartbeat = (
  agent: Dispatcher,
  base: string,
  nodeToken: string,
  body: Record<string, unknown>
): Effect.Effect<HeartbeatPong, DirectoryUnavailable> =>
  httpJson(agent, {
    method: "POST",
    url: `${base}/v1/heartbeat`,
    headers: { authorization: `Bearer ${nodeToken}` },
    body,
    timeoutMs: DIRECTORY_CALL_TIMEOUT_MS
  }).pipe(
    Effect.mapError(failureOf),
    Effect.flatMap((res) => {
      if (res.status < 200 || res.status > 299) return Effect.fail(statusFailure(res))
      const next = (res.body as { next_heartbeat_ms?: unknown } | undefined)?.next_heartbeat_ms
      return Effect.succeed({ nextHeartbeatMs: typeof next === "number" ? next : undefined })
    })
  )

/** `DELETE {base}/v1/register`; 200 and 404 both count as done (§5.3). */
export const deleteRegistration = (
  agent: Dispatcher,
  base: string,
  nodeId: string | undefined,
  nodeToken: string
): Effect.Effect<void, DirectoryUnavailable> =>
  httpJson(agent, {
    method: "DELETE",
    url: `${base}/v1/register`,
    headers: { authorization: `Bearer ${nodeToken}` },
    body: { node_id: nodeId },
    timeoutMs: DIRECTORY_CALL_TIMEOUT_MS
  }).pipe(
    Effect.mapError(failureOf),
    Effect.flatMap((res) => (res.status === 404 || (res.status >= 200 && res.status <= 299) ? Effect.void : Effect.fail(statusFailure(res))))
  )
