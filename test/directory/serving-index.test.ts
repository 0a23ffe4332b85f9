import { Effect } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { MIN_DISCOVER_SCORE, NODE_LIVENESS_WINDOW_MS } from "../../src/constants.js"
import { projectionRenderer, projectNode } from "../../src/directory/projection.js"
import { roundScore, scoreNode } from "../../src/directory/scoring.js"
import { createServingIndex } from "../../src/directory/serving-index.js"
import { createMemoryStore } from "../../src/directory/store/memory.js"
import type { RankQuery } from "../../src/directory/serving-index.js"
import type { NodeRecord } from "../../src/directory/store/types.js"
import { CHAT, seededNode } from "./helpers.js"

const NOW = 1_800_000_000_000
const REGIONS = ["eu-central", "us-east", "ap-south"]
const MODELS = ["m-a", "m-b", "m-c"]

/** The reference ranking: score every eligible node, sort by emitted score then node_id, cut at limit. */
const oracle = (nodes: ReadonlyArray<NodeRecord>, query: RankQuery, nowMs: number) =>
  nodes
    .filter(
      (n) =>
        n.available &&
        n.liveness === "verified" &&
        n.last_seen_ms >= nowMs - NODE_LIVENESS_WINDOW_MS &&
        (query.minReputation === undefined || n.reputation >= query.minReputation) &&
        (!query.relayOnly || n.relay_capable) &&
        (!query.probation || ((n.tasks_completed ?? 0) >= query.probation.minTasks && n.reputation >= query.probation.minReputation))
    )
    .map((n) => ({ id: n.node_id, score: roundScore(scoreNode(n, n.capabilities[0]!.models, query, nowMs)) }))
    .filter((r) => r.score >= MIN_DISCOVER_SCORE)
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1))
    .slice(0, query.limit)

// Coarse value grids make many exact score ties, the case ordering by node_id must get right.
const nodeArb = (id: string) =>
  fc
    .record({
      region: fc.constantFrom(...REGIONS),
      models: fc.subarray(MODELS, { minLength: 1 }),
      max_concurrent: fc.constantFrom(0, 1, 4, 8),
      active_jobs: fc.option(fc.integer({ min: 0, max: 8 }), { nil: undefined }),
      load: fc.option(fc.constantFrom(0, 0.25, 0.5, 0.75, 1, 1.5), { nil: undefined }),
      reputation: fc.constantFrom(0, 0.1, 0.3, 0.5, 0.7, 0.9, 1),
      relay_capable: fc.boolean(),
      available: fc.boolean(),
      liveness: fc.constantFrom("verified", "verified", "verified", "pending"),
      silentForMs: fc.constantFrom(0, 10_000, NODE_LIVENESS_WINDOW_MS + 1),
      tasks_completed: fc.option(fc.constantFrom(0, 50, 150, 5000), { nil: undefined }),
      windowShare: fc.option(fc.constantFrom(0, 0.2, 1), { nil: undefined }),
      multiplier: fc.option(fc.constantFrom(0, 1, 2.5, 12), { nil: undefined })
    })
    .map(
      (v): NodeRecord =>
        seededNode(id, NOW - v.silentForMs, {
          region: v.region,
          capabilities: [{ intent: CHAT, models: v.models }],
          max_concurrent: v.max_concurrent,
          reputation: v.reputation,
          relay_capable: v.relay_capable,
          available: v.available,
          liveness: v.liveness as NodeRecord["liveness"],
          ...(v.active_jobs === undefined ? {} : { active_jobs: v.active_jobs }),
          ...(v.load === undefined ? {} : { load: v.load }),
          ...(v.tasks_completed === undefined ? {} : { tasks_completed: v.tasks_completed }),
          ...(v.windowShare === undefined ? {} : { availability: [{ start: "00:00", end: "12:00", share: v.windowShare }] }),
          ...(v.multiplier === undefined ? {} : { pricing: { credit_cost_multiplier: v.multiplier, pricing_model: "per_token" as const } })
        })
    )

const queryArb: fc.Arbitrary<RankQuery> = fc
  .record({
    limit: fc.integer({ min: 1, max: 50 }),
    region: fc.option(fc.constantFrom(...REGIONS, "nowhere"), { nil: undefined }),
    model: fc.option(fc.constantFrom(...MODELS, "m-none"), { nil: undefined }),
    minReputation: fc.option(fc.constantFrom(0, 0.5, 0.9), { nil: undefined }),
    relayOnly: fc.boolean(),
    probation: fc.option(fc.constantFrom({ minTasks: 100, minReputation: 0 }, { minTasks: 1000, minReputation: 0.8 }), { nil: undefined })
  })
  .map((q) => {
    const { region, model, minReputation, probation, ...rest } = q
    return {
      ...rest,
      ...(region === undefined ? {} : { region }),
      ...(model === undefined ? {} : { model }),
      ...(minReputation === undefined ? {} : { minReputation }),
      ...(probation === undefined ? {} : { probation })
    }
  })

/** A history of puts (new and replaced nodes) and removals over a small id space. */
const historyArb = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 300 }).chain((i) => nodeArb(`node-${i}`).map((node) => ({ put: node }))) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 300 }).map((i) => ({ remove: `node-${i}` })) }
  ),
  { minLength: 100, maxLength: 600 }
)

describe("serving index", () => {
  it("ranks exactly like scoring every node (same scores, same order, ties by node_id) through puts, updates and removals", () => {
    fc.assert(
      fc.property(historyArb, fc.array(queryArb, { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 3 }), (history, queries, checkpoints) => {
        const index = createServingIndex(CHAT)
        const live = new Map<string, NodeRecord>()
        // Queries between changes exercise the sorted order, the changed-since-sort set and the re-sort
        // (histories are long enough that re-sorts happen).
        const every = Math.max(1, Math.floor(history.length / (checkpoints + 1)))
        history.forEach((step, i) => {
          if ("put" in step) {
            index.put(step.put)
            live.set(step.put.node_id, step.put)
          } else {
            index.remove(step.remove)
            live.delete(step.remove)
          }
          if (i % every === 0 || i === history.length - 1) {
            for (const query of queries) {
              const { ranked, staleAtMs } = index.rank(query, NOW)
              const expected = oracle([...live.values()], query, NOW)
              expect(ranked.map((r) => ({ id: r.node.node_id, score: r.score }))).toEqual(expected)
              const oldest = Math.min(...ranked.map((r) => r.node.last_seen_ms))
              expect(staleAtMs).toBe(oldest + NODE_LIVENESS_WINDOW_MS + 1)
            }
          }
        })
        expect(index.size()).toBe(live.size)
      }),
      { numRuns: 200 }
    )
  })

  it("scores availability windows at query time: with no change to the index, the order flips at the window's end", () => {
    const index = createServingIndex(CHAT)
    const seenAt = Date.UTC(2027, 0, 15, 11, 59, 30)
    // Inside its window the windowed node offers no capacity share (A = 0): 0.555; outside, A = 0.5: 0.73.
    index.put(seededNode("windowed", seenAt, { availability: [{ start: "00:00", end: "12:00", share: 0 }] }))
    // Fully loaded, the steady node scores 0.615 at any time.
    index.put(seededNode("steady", seenAt, { load: 1, reputation: 0.4 }))
    const ranking = (nowMs: number) => index.rank({ limit: 10, relayOnly: false }, nowMs).ranked.map((r) => [r.node.node_id, r.score])
    expect(ranking(seenAt)).toEqual([
      ["steady", 0.615],
      ["windowed", 0.555]
    ])
    expect(ranking(seenAt + 60_000)).toEqual([
      ["windowed", 0.73],
      ["steady", 0.615]
    ])
  })
})

describe("projection renderer", () => {
  it("renders byte for byte what JSON.stringify(projectNode(...)) gives, for any score and any echoed fields", () => {
    const nodeWithExtras = fc.record({
      id: fc.string({ minLength: 1, maxLength: 12 }),
      region: fc.string({ maxLength: 12 }),
      relay: fc.boolean(),
      transport: fc.option(fc.constantFrom("direct", "turn_relay"), { nil: undefined }),
      policy: fc.option(fc.record({ allow_remote_inference: fc.boolean() }), { nil: undefined }),
      latency: fc.option(fc.nat(5_000), { nil: undefined })
    })
    fc.assert(
      fc.property(nodeWithExtras, fc.double({ min: 0, max: 1, noNaN: true }), (v, score) => {
        const node = seededNode(v.id, NOW, {
          region: v.region,
          relay_capable: v.relay,
          ...(v.relay ? { relay_accept_port: 9485 } : {}),
          ...(v.transport === undefined ? {} : { transport_method: v.transport }),
          ...(v.policy === undefined ? {} : { policy: v.policy }),
          ...(v.latency === undefined ? {} : { avg_latency_ms: v.latency })
        })
        const render = projectionRenderer(node, node.capabilities, true)
        expect(render(score)).toBe(JSON.stringify(projectNode(node, node.capabilities, score, true)))
      })
    )
  })
})

describe("memory store serving indexes", () => {
  it("follow a node across intents: dropping an intent unlists it there, deleting it unlists it everywhere", () => {
    const TRANSLATE = "urn:iicp:intent:translate:v1"
    const store = createMemoryStore()
    const query: RankQuery = { limit: 10, relayOnly: false }
    const listed = (intent: string) => Effect.runSync(store.nodesServing(intent))?.rank(query, NOW).ranked.map((r) => r.node.node_id) ?? []
    const both = [
      { intent: CHAT, models: ["m-a"] },
      { intent: TRANSLATE, models: ["m-t"] }
    ]
    Effect.runSync(store.putNode(seededNode("multi", NOW, { capabilities: both })))
    Effect.runSync(store.putNode(seededNode("chat-only", NOW)))
    expect(listed(CHAT)).toEqual(["chat-only", "multi"])
    expect(listed(TRANSLATE)).toEqual(["multi"])
    Effect.runSync(store.putNode(seededNode("multi", NOW, { capabilities: [both[1]!] })))
    expect(listed(CHAT)).toEqual(["chat-only"])
    expect(listed(TRANSLATE)).toEqual(["multi"])
    Effect.runSync(store.deleteNode("multi"))
    expect(listed(TRANSLATE)).toEqual([])
    expect(Effect.runSync(store.nodesServing(TRANSLATE))).toBeUndefined()
  })
})
