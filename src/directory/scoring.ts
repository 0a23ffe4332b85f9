/**
 * Discover scoring, ADR-008 (§6.5): a weighted sum of availability, load, free capacity, region,
 * reputation and, when a model is requested, model match and price. Pure; time is passed in.
 */
import { OUTSIDE_WINDOW_SHARE } from "../constants.js"
import type { AvailabilityWindow, NodeRecord } from "./store/types.js"

/** What the query contributes to a score. */
export interface ScoreQuery {
  readonly region?: string
  readonly model?: string
}

const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5))

/** Whether `minute` (of the UTC day) is inside a window; a window whose end precedes its start wraps midnight. */
const covers = (window: AvailabilityWindow, minute: number): boolean => {
  const start = minutesOf(window.start)
  const end = minutesOf(window.end)
  return start <= end ? minute >= start && minute < end : minute >= start || minute < end
}

/** A: the share of the window covering now; 0.5 when windows exist and none covers now; 1 without windows. */
export const availabilityTerm = (windows: ReadonlyArray<AvailabilityWindow> | undefined, nowMs: number): number => {
  if (!windows || windows.length === 0) return 1
  const minute = Math.floor((nowMs % 86_400_000) / 60_000)
  const covering = windows.find((window) => covers(window, minute))
  return covering ? covering.share : OUTSIDE_WINDOW_SHARE
}

/** L: heartbeat load clamped to [0, 1]; else active ÷ max when both are known; else 0. */
export const loadTerm = (node: Pick<NodeRecord, "load" | "active_jobs" | "max_concurrent">): number => {
  if (node.load !== undefined) return Math.min(1, Math.max(0, node.load))
  if (node.active_jobs !== undefined && node.max_concurrent > 0) return Math.min(1, Math.max(0, node.active_jobs / node.max_concurrent))
  return 0
}

/** C: free capacity, `max(0, 1 − active ÷ max)`; 0 without capacity. */
export const capacityTerm = (node: Pick<NodeRecord, "active_jobs" | "max_concurrent">): number =>
  node.max_concurrent <= 0 ? 0 : Math.max(0, 1 - (node.active_jobs ?? 0) / node.max_concurrent)

/** R for a node in the requested region and for any other node: 1 and 0, or 0.5 for both when no region is requested. */
export const regionTerms = (requested: string | undefined): { readonly match: number; readonly other: number } =>
  requested === undefined ? { match: 0.5, other: 0.5 } : { match: 1, other: 0 }

/** R: 1 on a region match, 0 on a mismatch, 0.5 when no region is requested. */
export const regionTerm = (nodeRegion: string, requested: string | undefined): number => {
  const terms = regionTerms(requested)
  return nodeRegion === requested ? terms.match : terms.other
}

/** $: `max(0, 1 − multiplier ÷ 10)`; 0.5 without declared pricing. */
export const priceTerm = (node: Pick<NodeRecord, "pricing">): number =>
  node.pricing ? Math.max(0, 1 - node.pricing.credit_cost_multiplier / 10) : 0.5

/**
 * The query-independent head of the plain formula: weighted A, (1 − L) and C. Split out so an index
 * can keep it per node; the tail adds the query's terms in the same order, so the sum is bit-identical.
 */
export const plainHead = (a: number, l: number, c: number): number => 0.35 * a + 0.28 * (1 - l) + 0.18 * c

/** The plain formula (no model requested) from its head: `head + 0.09·R + 0.1·P`. */
export const plainScore = (head: number, r: number, p: number): number => head + 0.09 * r + 0.1 * p

/** The query-independent head of the formula used when a model is requested. */
export const modelHead = (a: number, l: number, c: number): number => 0.25 * a + 0.2 * (1 - l) + 0.15 * c

/** The model formula from its head: `head + 0.1·R + 0.1·P + 0.1·M + 0.1·$`. */
export const modelScore = (head: number, r: number, p: number, m: number, price: number): number =>
  head + 0.1 * r + 0.1 * p + 0.1 * m + 0.1 * price

/** The raw (unrounded) score of a node for one intent's models. */
export const scoreNode = (node: NodeRecord, models: ReadonlyArray<string>, query: ScoreQuery, nowMs: number): number => {
  const a = availabilityTerm(node.availability, nowMs)
  const l = loadTerm(node)
  const c = capacityTerm(node)
  const r = regionTerm(node.region, query.region)
  const p = node.reputation
  if (query.model === undefined) return plainScore(plainHead(a, l, c), r, p)
  return modelScore(modelHead(a, l, c), r, p, models.includes(query.model) ? 1 : 0, priceTerm(node))
}

/** A score as emitted: rounded to 4 decimals. */
export const roundScore = (score: number): number => Math.round(score * 10_000) / 10_000
