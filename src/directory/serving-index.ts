/**
 * The nodes serving one intent, kept for discover (§6.5) so a query need not score every node.
 *
 * Each node has a slot in typed arrays (eligibility inputs and the query-independent head of both
 * ADR-008 formulas), updated on every save and removal. Slots are also kept sorted by their best
 * possible score per formula (the head plus the static terms); a query walks that order and stops
 * once no later node could reach the current top `limit` even with the best region and model
 * terms. Nodes changed since the last sort, and nodes with availability windows (their score moves
 * with the clock), are scored one by one instead; the order is rebuilt once they are many, so
 * upkeep is O(log n) amortised per change. Scores come from the scoring functions themselves, so
 * they and the order (ties by node_id) are exactly those of scoring every node.
 */
import { MIN_DISCOVER_SCORE, NODE_LIVENESS_WINDOW_MS } from "../constants.js"
import { availabilityTerm, capacityTerm, loadTerm, modelHead, modelScore, plainHead, plainScore, priceTerm, regionTerm, regionTerms, roundScore, scoreNode } from "./scoring.js"
import type { NodeRecord, StoredCapability } from "./store/types.js"

/** What ranking needs of a discover query. */
export interface RankQuery {
  readonly limit: number
  readonly region?: string
  readonly model?: string
  readonly minReputation?: number
  readonly relayOnly: boolean
  /** What QoS probation demands of a node, when it applies. */
  readonly probation?: { readonly minTasks: number; readonly minReputation: number }
}

/** A node as ranked: its capability for the intent and its emitted (rounded) score. */
export interface Ranked {
  readonly node: NodeRecord
  readonly capability: StoredCapability
  readonly score: number
}

/** The nodes serving one intent. */
export interface ServingIndex {
  /** Adds or replaces a node (it must serve the index's intent). */
  readonly put: (record: NodeRecord) => void
  readonly remove: (nodeId: string) => void
  readonly size: () => number
  /**
   * The eligible nodes at `nowMs`, best first by emitted score with ties by `node_id`, at most
   * `limit`; and when that answer goes stale because one of them falls silent.
   */
  readonly rank: (query: RankQuery, nowMs: number) => { readonly ranked: Array<Ranked>; readonly staleAtMs: number }
}

/** What discover reads of an index. */
export type RankingView = Pick<ServingIndex, "rank" | "size">

const INITIAL_CAPACITY = 64

/** Best first by emitted score, ties by node_id ascending (DIR-DISC-02). */
const before = (score: number, nodeId: string, other: Ranked): boolean => score > other.score || (score === other.score && nodeId < other.node.node_id)

/** Twice the rounding half-step of an emitted score (4 decimals): a raw score further below a cut rounds below it. */
const ROUNDING_MARGIN = 1e-4

/** Covers the last-bit differences between a bound summed in another order and the score itself. */
const SUM_SLACK = 1e-9

/** The sorted order is rebuilt once more than this share of the nodes (or this many) changed since. */
const RESORT_SHARE = 1 / 8
const RESORT_MIN = 64

/** An empty index for `intent`. */
export const createServingIndex = (intent: string): ServingIndex => {
  const slotOf = new Map<string, number>()
  const freeSlots: Array<number> = []
  const records: Array<NodeRecord | undefined> = []
  const ids: Array<string> = []
  const regions: Array<string> = []
  const capabilities: Array<StoredCapability | undefined> = []
  let used = 0
  let capacity = INITIAL_CAPACITY
  // available && liveness verified: the time-independent part of eligibility (0 for a free slot).
  let ready = new Uint8Array(capacity)
  let relay = new Uint8Array(capacity)
  // Availability windows make A depend on the time of day: such nodes are scored whole at query time.
  let timed = new Uint8Array(capacity)
  let lastSeen = new Float64Array(capacity)
  let reputation = new Float64Array(capacity)
  let tasks = new Float64Array(capacity)
  let plain = new Float64Array(capacity)
  let model = new Float64Array(capacity)
  let price = new Float64Array(capacity)
  // Slots scored one by one: changed since the last sort, freed, or timed. `unsorted[slot]` marks membership.
  let unsorted = new Uint8Array(capacity)
  let loose: Array<number> = []
  let byPlain = new Int32Array(0)
  let byModel = new Int32Array(0)

  const grow = () => {
    capacity *= 2
    const widen = <T extends Uint8Array | Float64Array>(from: T, to: T): T => {
      to.set(from)
      return to
    }
    ready = widen(ready, new Uint8Array(capacity))
    relay = widen(relay, new Uint8Array(capacity))
    timed = widen(timed, new Uint8Array(capacity))
    lastSeen = widen(lastSeen, new Float64Array(capacity))
    reputation = widen(reputation, new Float64Array(capacity))
    tasks = widen(tasks, new Float64Array(capacity))
    plain = widen(plain, new Float64Array(capacity))
    model = widen(model, new Float64Array(capacity))
    price = widen(price, new Float64Array(capacity))
    unsorted = widen(unsorted, new Uint8Array(capacity))
  }

  const loosen = (slot: number) => {
    if (unsorted[slot] === 1) return
    unsorted[slot] = 1
    loose.push(slot)
  }

  const fill = (slot: number, record: NodeRecord) => {
    records[slot] = record
    ids[slot] = record.node_id
    capabilities[slot] = record.capabilities.length === 1 ? record.capabilities[0] : record.capabilities.find((c) => c.intent === intent)
    ready[slot] = record.available && record.liveness === "verified" ? 1 : 0
    relay[slot] = record.relay_capable ? 1 : 0
    regions[slot] = record.region
    timed[slot] = record.availability !== undefined && record.availability.length > 0 ? 1 : 0
    lastSeen[slot] = record.last_seen_ms
    reputation[slot] = record.reputation
    tasks[slot] = record.tasks_completed ?? 0
    // Without windows A is 1 whatever the time.
    const a = availabilityTerm(undefined, 0)
    plain[slot] = plainHead(a, loadTerm(record), capacityTerm(record))
    model[slot] = modelHead(a, loadTerm(record), capacityTerm(record))
    price[slot] = priceTerm(record)
    loosen(slot)
  }

  // The best score a slot can reach under each formula, before the region and model terms.
  const plainKey = (slot: number) => plain[slot]! + 0.1 * reputation[slot]!
  const modelKey = (slot: number) => model[slot]! + 0.1 * reputation[slot]! + 0.1 * price[slot]!

  const resort = () => {
    const sorted: Array<number> = []
    const stillLoose: Array<number> = []
    for (let slot = 0; slot < used; slot++) {
      if (ready[slot] === 1 && timed[slot] === 1) stillLoose.push(slot)
      else if (records[slot] !== undefined) sorted.push(slot)
      unsorted[slot] = 0
    }
    for (const slot of stillLoose) unsorted[slot] = 1
    loose = stillLoose
    byPlain = Int32Array.from(sorted).sort((a, b) => plainKey(b) - plainKey(a))
    byModel = Int32Array.from(sorted).sort((a, b) => modelKey(b) - modelKey(a))
  }

  return {
    put: (record) => {
      let slot = slotOf.get(record.node_id)
      if (slot === undefined) {
        slot = freeSlots.pop()
        if (slot === undefined) {
          if (used === capacity) grow()
          slot = used++
        }
        slotOf.set(record.node_id, slot)
      }
      fill(slot, record)
    },
    remove: (nodeId) => {
      const slot = slotOf.get(nodeId)
      if (slot === undefined) return
      slotOf.delete(nodeId)
      records[slot] = undefined
      capabilities[slot] = undefined
      ready[slot] = 0
      loosen(slot)
      freeSlots.push(slot)
    },
    size: () => slotOf.size,
    rank: (query, nowMs) => {
      if (loose.length > Math.max(RESORT_MIN, slotOf.size * RESORT_SHARE)) resort()
      const top: Array<Ranked> = []
      const since = nowMs - NODE_LIVENESS_WINDOW_MS
      const { limit, model: wantedModel, minReputation, relayOnly, probation } = query
      // A raw score this far below the current cut cannot round up to it.
      let floor = MIN_DISCOVER_SCORE - ROUNDING_MARGIN

      /** Scores one slot and keeps it when it makes the top. */
      const consider = (slot: number) => {
        if (ready[slot] === 0 || lastSeen[slot]! < since) return
        const p = reputation[slot]!
        if (minReputation !== undefined && p < minReputation) return
        if (relayOnly && relay[slot] === 0) return
        if (probation && (tasks[slot]! < probation.minTasks || p < probation.minReputation)) return
        let raw: number
        if (timed[slot] === 1) raw = scoreNode(records[slot]!, capabilities[slot]!.models, query, nowMs)
        else {
          const r = regionTerm(regions[slot]!, query.region)
          raw =
            wantedModel === undefined
              ? plainScore(plain[slot]!, r, p)
              : modelScore(model[slot]!, r, p, capabilities[slot]!.models.includes(wantedModel) ? 1 : 0, price[slot]!)
        }
        if (raw < floor) return
        const score = roundScore(raw)
        if (score < MIN_DISCOVER_SCORE) return
        const nodeId = ids[slot]!
        if (top.length === limit && !before(score, nodeId, top[limit - 1]!)) return
        let at = top.length
        while (at > 0 && before(score, nodeId, top[at - 1]!)) at--
        top.splice(at, 0, { node: records[slot]!, capability: capabilities[slot]!, score })
        if (top.length > limit) top.pop()
        if (top.length === limit) floor = Math.max(floor, top[limit - 1]!.score - ROUNDING_MARGIN)
      }

      for (const slot of loose) consider(slot)
      // The best the query's own terms can add: R at its best, and M = 1 when a model is asked for.
      const { match, other } = regionTerms(query.region)
      const bestR = Math.max(match, other)
      const order = wantedModel === undefined ? byPlain : byModel
      const keyOf = wantedModel === undefined ? plainKey : modelKey
      const bonus = (wantedModel === undefined ? plainScore(0, bestR, 0) : modelScore(0, bestR, 0, 1, 0)) + SUM_SLACK
      for (const slot of order) {
        if (unsorted[slot] === 1) continue
        // Later slots have lower keys: once the best this one could score falls below the cut, none can make the top.
        if (keyOf(slot) + bonus < floor) break
        consider(slot)
      }

      let oldestSeen = Number.POSITIVE_INFINITY
      for (const ranked of top) oldestSeen = Math.min(oldestSeen, ranked.node.last_seen_ms)
      return { ranked: top, staleAtMs: oldestSeen + NODE_LIVENESS_WINDOW_MS + 1 }
    }
  }
}
