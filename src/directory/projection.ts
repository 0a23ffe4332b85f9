/** How a node looks on the wire in discover, `/v1/node/{id}` and bootstrap (§6.5, §6.6). */
import { loadTerm, roundScore } from "./scoring.js"
import type { NodeRecord, StoredCapability } from "./store/types.js"

/** ISO-8601 UTC without milliseconds (`2026-05-28T10:00:00Z`). */
export const isoSeconds = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z")

const ECHOED = [
  "transport_endpoint",
  "transport_method",
  "transport_metadata",
  "nat_type",
  "exposure_mode",
  "relay_endpoint",
  "sdk_language",
  "sdk_version",
  "cx_public_key"
] as const

const capabilityView = (capability: StoredCapability): Record<string, unknown> => ({ ...capability })

/** The members before `score`: who and where the node is. */
const identityOf = (node: NodeRecord) => ({ node_id: node.node_id, endpoint: node.endpoint, region: node.region })

/** The members after `score`. */
const detailsOf = (node: NodeRecord, capabilities: ReadonlyArray<StoredCapability>, available: boolean): Record<string, unknown> => {
  const echoed: Record<string, unknown> = {}
  for (const key of ECHOED) if (node[key] !== undefined) echoed[key] = node[key]
  if (node.policy) echoed["cip_policy"] = { ...node.policy, allow_remote_inference: node.policy["allow_remote_inference"] === true }
  return {
    available,
    load: loadTerm(node),
    active_jobs: node.active_jobs ?? 0,
    max_concurrent: node.max_concurrent,
    models: [...new Set(capabilities.flatMap((c) => c.models))],
    capabilities: capabilities.map(capabilityView),
    reputation_score: roundScore(node.reputation),
    latency_estimate_ms: node.avg_latency_ms ?? null,
    last_seen: isoSeconds(node.last_seen_ms),
    relay_capable: node.relay_capable,
    ...(node.relay_capable ? { relay_accept_port: node.relay_accept_port } : {}),
    reachability_tier: node.transport_method === "turn_relay" ? "relay" : "direct",
    ...echoed
  }
}

/**
 * The node projection: the always-present members the Rust SDK needs (string `region`, number
 * `score`, boolean `available`, `load`), the capabilities given, and the echoed register fields.
 */
export const projectNode = (
  node: NodeRecord,
  capabilities: ReadonlyArray<StoredCapability>,
  score: number,
  available: boolean
): Record<string, unknown> => ({ ...identityOf(node), score: roundScore(score), ...detailsOf(node, capabilities, available) })

/**
 * The projection serialised once, for any score: `render(score)` is byte for byte
 * `JSON.stringify(projectNode(node, capabilities, score, available))`, at the cost of two concatenations.
 */
export const projectionRenderer = (
  node: NodeRecord,
  capabilities: ReadonlyArray<StoredCapability>,
  available: boolean
): ((score: number) => string) => {
  const head = `${JSON.stringify(identityOf(node)).slice(0, -1)},"score":`
  const tail = `,${JSON.stringify(detailsOf(node, capabilities, available)).slice(1)}`
  return (score) => head + JSON.stringify(roundScore(score)) + tail
}
