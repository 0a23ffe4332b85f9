/**
 * `POST /v1/heartbeat` and `DELETE /v1/register` (§6.4): authenticated by node token; a beat
 * refreshes liveness and load, counts a metrics batch once, and answers the PONG.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import { Clock, Effect } from "effect"
import {
  ADDRESS_HISTORY_RETENTION_MS,
  CHALLENGE_BYTES,
  HEARTBEAT_INTERVAL_MS,
  MAX_METRICS_BATCH_ID_LENGTH,
  METRICS_BATCH_MEMORY,
  REPUTATION_EPOCH
} from "../constants.js"
import { isRecord } from "../protocol/json.js"
import type { Handler } from "./api.js"
import { authenticateNode } from "./auth.js"
import { DirectoryRefusal } from "./errors.js"
import { verifyLivenessLater } from "./register.js"
import { applyOutcomes } from "./reputation.js"
import { roundScore } from "./scoring.js"
import type { NodeRecord } from "./store/types.js"

type Body = Readonly<Record<string, unknown>>

const PRINTABLE_ASCII = /^[\x20-\x7e]+$/

const count = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0)
const nonNegativeInteger = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : undefined

/** The metrics of a beat when it carries a valid batch id not seen before for this node. */
const acceptedBatch = (node: NodeRecord, body: Body): { readonly id: string; readonly metrics: Body } | undefined => {
  const metrics = body["metrics"]
  const id = body["metrics_batch_id"]
  if (!isRecord(metrics)) return undefined
  if (typeof id !== "string" || id.length > MAX_METRICS_BATCH_ID_LENGTH || !PRINTABLE_ASCII.test(id)) return undefined
  return node.metrics_batches.includes(id) ? undefined : { id, metrics }
}

/** Whether the beat answered the previous challenge correctly; `undefined` when it did not try. */
const challengeAnswered = (node: NodeRecord, body: Body): boolean | undefined => {
  const answer = body["challenge_response"]
  if (typeof answer !== "string" || node.challenge === undefined) return undefined
  const expected = createHmac("sha256", node.node_hmac_key).update(node.challenge).digest()
  const given = Buffer.from(answer, "hex")
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/** The node after one valid beat at `now` from `clientIp`. */
const applyBeat = (node: NodeRecord, body: Body, now: number, clientIp: string, challenge: string): { next: NodeRecord; batchAccepted: boolean } => {
  const load = body["load"]
  const activeJobs = nonNegativeInteger(body["active_jobs"])
  const maxConcurrent = nonNegativeInteger(body["max_concurrent"])
  const batch = acceptedBatch(node, body)
  const latency = batch?.metrics["avg_latency_ms"]
  const successes = batch ? count(batch.metrics["tasks_success"]) : 0
  const reputation = batch
    ? applyOutcomes(node, { successes, failures: count(batch.metrics["tasks_failed"]), timeouts: count(batch.metrics["tasks_timeout"]) }, now)
    : undefined
  const answered = challengeAnswered(node, body)
  const next: NodeRecord = {
    ...node,
    ...reputation,
    last_seen_ms: now,
    available: typeof body["available"] === "boolean" ? body["available"] : true,
    ...(typeof load === "number" && Number.isFinite(load) ? { load: Math.min(1, Math.max(0, load)) } : {}),
    ...(activeJobs === undefined ? {} : { active_jobs: activeJobs }),
    ...(maxConcurrent === undefined ? {} : { max_concurrent: maxConcurrent }),
    ...(typeof latency === "number" && Number.isFinite(latency) && latency >= 0 ? { avg_latency_ms: Math.round(latency) } : {}),
    ...(batch ? { tasks_completed: (node.tasks_completed ?? 0) + successes } : {}),
    metrics_batches: batch ? [...node.metrics_batches, batch.id].slice(-METRICS_BATCH_MEMORY) : node.metrics_batches,
    observed_source_ip: clientIp,
    challenge,
    challenge_failures: node.challenge_failures + (answered === false ? 1 : 0)
  }
  return { next, batchAccepted: batch !== undefined }
}

/** `POST /v1/heartbeat`. */
export const heartbeat: Handler = (request, context) =>
  Effect.gen(function* () {
    const body = yield* request.body
    if (body !== undefined && !isRecord(body)) {
      return yield* new DirectoryRefusal({ reason: "validation", message: "heartbeat body must be a JSON object" })
    }
    const node = yield* authenticateNode(request, context, body)
    const now = yield* Clock.currentTimeMillis
    const challenge = randomBytes(CHALLENGE_BYTES).toString("hex")
    const { next, batchAccepted } = applyBeat(node, body ?? {}, now, request.clientIp, challenge)
    yield* context.saveNode(next, node)
    if (node.observed_source_ip !== request.clientIp) {
      yield* context.store.appendAddress(
        { node_id: node.node_id, type: "heartbeat", ip: request.clientIp, at_ms: now },
        now - ADDRESS_HISTORY_RETENTION_MS
      )
    }
    if (next.liveness === "pending") verifyLivenessLater(context, node.node_id, 0)
    return {
      status: 200,
      body: {
        ok: true,
        next_heartbeat_ms: HEARTBEAT_INTERVAL_MS,
        reputation_score: roundScore(next.reputation),
        reputation_model: "outcome-v2",
        reputation_epoch: REPUTATION_EPOCH,
        metrics_batch_accepted: batchAccepted,
        challenge
      }
    }
  })

/** `DELETE /v1/register`. */
export const deregister: Handler = (request, context) =>
  Effect.gen(function* () {
    const node = yield* authenticateNode(request, context, yield* request.body)
    yield* context.removeNode(node)
    context.tokens.forget(node.node_id)
    context.logger.info("node deregistered", { node_id: node.node_id })
    return { status: 200, body: { deregistered: true } }
  })
