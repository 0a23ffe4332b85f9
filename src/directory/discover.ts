/**
 * `GET /v1/discover` (§6.5): query validation, eligibility, ADR-008 scores, best first with ties by
 * `node_id` (ranked by the store's serving index), the projection, and the exact `Cache-Control`.
 * Answers are cached per query while the intent's nodes are unchanged (see discover-cache).
 */
import { performance } from "node:perf_hooks"
import { Clock, Effect } from "effect"
import {
  DEFAULT_DISCOVER_LIMIT,
  DISCOVER_CACHE_CONTROL,
  MAX_DISCOVER_LIMIT,
  QOS_PROBATION_INTERACTIVE_TASKS,
  QOS_PROBATION_REALTIME_REPUTATION,
  QOS_PROBATION_REALTIME_TASKS
} from "../constants.js"
import { checkIntent } from "../protocol/urn.js"
import type { Handler } from "./api.js"
import { DirectoryRefusal } from "./errors.js"
import { projectionRenderer } from "./projection.js"
import type { RankQuery } from "./serving-index.js"
import type { NodeRecord, StoredCapability } from "./store/types.js"

const QOS_CLASSES = new Set(["realtime", "interactive", "batch", "best-effort", "best_effort"])

/** A validated discover query. */
export interface DiscoverQuery extends RankQuery {
  readonly intent: string
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
const parseDiscoverQuery = (query: URLSearchParams, qosProbation = false): DiscoverQuery | DirectoryRefusal => {
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

/** No node serves the intent: an empty answer that never goes stale on its own (a register invalidates it). */
const NOTHING_RANKED = { ranked: [], staleAtMs: Number.POSITIVE_INFINITY } as const

/**
 * Each record's projection, serialised the first time it is returned: records are replaced, never
 * changed, on every save, so an entry lives exactly as long as what it renders.
 */
const rendered = new WeakMap<NodeRecord, { readonly capability: StoredCapability; readonly render: (score: number) => string }>()

const rendererFor = (node: NodeRecord, capability: StoredCapability): ((score: number) => string) => {
  let entry = rendered.get(node)
  if (entry?.capability !== capability) {
    entry = { capability, render: projectionRenderer(node, [capability], true) }
    rendered.set(node, entry)
  }
  return entry.render
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
    const serving = yield* context.store.nodesServing(query.intent)
    const { ranked, staleAtMs } = serving ? serving.rank(query, now) : NOTHING_RANKED
    const nodes = ranked.map((r) => rendererFor(r.node, r.capability)(r.score)).join(",")
    const rest = JSON.stringify({
      count: ranked.length,
      query_ms: Math.round(performance.now() - started),
      relay_available: ranked.some((r) => r.node.relay_capable),
      view: "dispatch"
    })
    const raw = Buffer.from(`{"nodes":[${nodes}],${rest.slice(1)}`)
    cached.keep(raw, staleAtMs)
    return { status: 200, body: undefined, raw, headers }
  })
