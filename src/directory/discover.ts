/**
 * `GET /v1/discover` (§6.5): query validation, eligibility, ADR-008 scores, best first with ties by
 * `node_id`, the projection, and the exact `Cache-Control`. Answers are cached per query while the
 * intent's nodes are unchanged (see discover-cache).
 */
import { performance } from "node:perf_hooks"
import { Clock, Effect } from "effect"
import {
  DEFAULT_DISCOVER_LIMIT,
  DISCOVER_CACHE_CONTROL,
  MAX_DISCOVER_LIMIT,
  MIN_DISCOVER_SCORE,
  NODE_LIVENESS_WINDOW_MS,
  QOS_PROBATION_INTERACTIVE_TASKS,
  QOS_PROBATION_REALTIME_REPUTATION,
  QOS_PROBATION_REALTIME_TASKS
} from "../constants.js"
import { checkIntent } from "../protocol/urn.js"
import type { Handler } from "./api.js"
import { DirectoryRefusal } from "./errors.js"
import { projectNode } from "./projection.js"
import { roundScore, scoreNode } from "./scoring.js"
import type { NodeRecord, StoredCapability } from "./store/types.js"

const QOS_CLASSES = new Set(["realtime", "interactive", "batch", "best-effort", "best_effort"])

/** A validated discover query. */
export interface DiscoverQuery {
  readonly intent: string
  readonly limit: number
  readonly region?: string
  readonly model?: string
  readonly minReputation?: number
  readonly relayOnly: boolean
  /** What QoS probation demands of a node, when it applies. */
  readonly probation?: { readonly minTasks: number; readonly minReputation: number }
}

const probationFor = (qos: string | null): DiscoverQuery["probation"] => {
  if (qos === "interactive") return { minTasks: QOS_PROBATION_INTERACTIVE_TASKS, minReputation: 0 }
  if (qos === "realtime") return { minTasks: QOS_PROBATION_REALTIME_TASKS, minReputation: QOS_PROBATION_REALTIME_REPUTATION }
  return undefined
}

const invalid = (message: string) => new DirectoryRefusal({ reason: "validation", message })

/** Parses an integer `limit`-style parameter: default when absent, clamped, 422 when not numeric. */
export const clampedLimit = (raw: string | null, name: string, fallback: number, max: number): number | DirectoryRefusal => {
  if (raw === null || raw === "") return fallback
  if (!/^-?\d+$/.test(raw.trim())) return invalid(`${name} must be an integer`)
  return Math.min(max, Math.max(1, Number(raw)))
}

/** Validates the query string (DIR-DISC-05/09/10); `qosProbation` turns on the optional probation filter. */
export const parseDiscoverQuery = (query: URLSearchParams, qosProbation = false): DiscoverQuery | DirectoryRefusal => {
  const intent = query.get("intent")
  if (!intent) return invalid("intent is required")
  const intentError = checkIntent(intent)
  if (intentError) return new DirectoryRefusal({ reason: intentError.reason === "policy" ? "policy" : "validation", message: intentError.message })
  const limit = clampedLimit(query.get("limit"), "limit", DEFAULT_DISCOVER_LIMIT, MAX_DISCOVER_LIMIT)
  if (limit instanceof DirectoryRefusal) return limit
  const qos = query.get("qos")
  if (qos !== null && qos !== "" && !QOS_CLASSES.has(qos)) return invalid("qos must be realtime, interactive, batch or best-effort")
  const rawReputation = query.get("min_reputation")
  let minReputation: number | undefined
  if (rawReputation !== null && rawReputation !== "") {
    minReputation = Number(rawReputation)
    if (!Number.isFinite(minReputation) || minReputation < 0 || minReputation > 1) return invalid("min_reputation must be a number in [0, 1]")
  }
  const relay = query.get("relay_capable")
  const probation = qosProbation ? probationFor(qos) : undefined
  return {
    intent,
    limit,
    ...(query.get("region") ? { region: query.get("region")! } : {}),
    ...(query.get("model") ? { model: query.get("model")! } : {}),
    ...(minReputation === undefined ? {} : { minReputation }),
    relayOnly: relay === "true" || relay === "1",
    ...(probation ? { probation } : {})
  }
}

interface Ranked {
  readonly node: NodeRecord
  readonly capability: StoredCapability
  readonly score: number
}

/** The node's capability for `intent`; the store lists only nodes serving it, so a lone capability is that one. */
const capabilityFor = (node: NodeRecord, intent: string): StoredCapability | undefined =>
  node.capabilities.length === 1 ? node.capabilities[0] : node.capabilities.find((c) => c.intent === intent)

/** Best first by emitted score, ties by node_id ascending (DIR-DISC-02). */
const before = (a: Ranked, b: Ranked): boolean => a.score > b.score || (a.score === b.score && a.node.node_id < b.node.node_id)

/**
 * The eligible nodes for a query at `nowMs`, best first, at most `limit` (a bounded insertion keeps
 * this O(n·limit)), and when the answer goes stale because an eligible node falls silent.
 */
export const rankNodes = (
  nodes: ReadonlyArray<NodeRecord>,
  query: DiscoverQuery,
  nowMs: number
): { readonly ranked: Array<Ranked>; readonly staleAtMs: number } => {
  const top: Array<Ranked> = []
  const since = nowMs - NODE_LIVENESS_WINDOW_MS
  let oldestSeen = Number.POSITIVE_INFINITY
  for (const node of nodes) {
    if (!node.available || node.last_seen_ms < since || node.liveness !== "verified") continue
    oldestSeen = Math.min(oldestSeen, node.last_seen_ms)
    if (query.minReputation !== undefined && node.reputation < query.minReputation) continue
    if (query.relayOnly && !node.relay_capable) continue
    if (query.probation && ((node.tasks_completed ?? 0) < query.probation.minTasks || node.reputation < query.probation.minReputation)) continue
    const capability = capabilityFor(node, query.intent)
    if (!capability) continue
    const score = roundScore(scoreNode(node, capability.models, query, nowMs))
    if (score < MIN_DISCOVER_SCORE) continue
    const candidate = { node, capability, score }
    if (top.length === query.limit && !before(candidate, top[top.length - 1]!)) continue
    let at = top.length
    while (at > 0 && before(candidate, top[at - 1]!)) at--
    top.splice(at, 0, candidate)
    if (top.length > query.limit) top.pop()
  }
  return { ranked: top, staleAtMs: oldestSeen + NODE_LIVENESS_WINDOW_MS + 1 }
}

const cacheKey = (query: DiscoverQuery): string =>
  [query.intent, query.limit, query.region ?? "", query.model ?? "", query.minReputation ?? "", query.relayOnly, query.probation?.minTasks ?? ""].join("\u0000")

/** `GET /v1/discover`. */
export const discover: Handler = (request, context) =>
  Effect.gen(function* () {
    const query = parseDiscoverQuery(request.query, context.config.qosProbation)
    if (query instanceof DirectoryRefusal) return yield* query
    const now = yield* Clock.currentTimeMillis
    const headers = { "cache-control": DISCOVER_CACHE_CONTROL }
    const cached = context.discoverCache.lookup(query.intent, cacheKey(query), now)
    if (cached.hit) return { status: 200, body: undefined, raw: cached.hit, headers }
    const started = performance.now()
    const { ranked, staleAtMs } = rankNodes(yield* context.store.nodesServing(query.intent), query, now)
    const nodes = ranked.map((r) => projectNode(r.node, [r.capability], r.score, true))
    const raw = Buffer.from(
      JSON.stringify({
        nodes,
        count: nodes.length,
        query_ms: Math.round(performance.now() - started),
        relay_available: ranked.some((r) => r.node.relay_capable),
        view: "dispatch"
      })
    )
    cached.keep(raw, staleAtMs)
    return { status: 200, body: undefined, raw, headers }
  })
