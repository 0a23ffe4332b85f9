import { it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { describe, expect } from "vitest"
import { DISCOVER_CACHE_CONTROL } from "../../src/constants.js"
import { createMemoryStore } from "../../src/directory/store/memory.js"
import type { NodeRecord } from "../../src/directory/store/types.js"
import { CHAT, directory, discover, registerNode, registration, seededNode } from "./helpers.js"

const TRANSLATE = "urn:iicp:intent:translate:v1"

/** A directory whose store is seeded with `nodes` (at TestClock time 0). */
const seeded = (nodes: ReadonlyArray<NodeRecord>) =>
  Effect.gen(function* () {
    const store = createMemoryStore()
    for (const node of nodes) yield* store.putNode(node)
    return Object.assign(yield* directory({ liveness: "off" }, store), { store })
  })

const scoresOf = (reply: { json: { nodes: Array<{ score: number }> } }) => reply.json.nodes.map((n) => n.score)

describe("GET /v1/discover", () => {
  it.scoped("worked examples (ADR-008): 0.905, 0.95, 0.86, and 0.89 with a model and multiplier 1.0", () =>
    Effect.gen(function* () {
      const dir = yield* directory({ liveness: "off" })
      yield* registerNode(dir.url, registration("http://127.0.0.1:8020", { pricing: { credit_cost_multiplier: 1.0, pricing_model: "per_token" } }))
      expect(scoresOf(yield* discover(dir.url, `intent=${CHAT}`))).toEqual([0.905])
      expect(scoresOf(yield* discover(dir.url, `intent=${CHAT}&region=eu-central`))).toEqual([0.95])
      expect(scoresOf(yield* discover(dir.url, `intent=${CHAT}&region=us-east`))).toEqual([0.86])
      expect(scoresOf(yield* discover(dir.url, `intent=${CHAT}&model=qwen2.5:0.5b`))).toEqual([0.89])
    })
  )

  it.scoped("DIR-DISC-01..04/08: 200, nodes[], integer count, descending scores in [0.1, 1], available true, exact Cache-Control", () =>
    Effect.gen(function* () {
      const dir = yield* seeded([
        seededNode("n-busy", 0, { load: 0.9, active_jobs: 3 }),
        seededNode("n-idle", 0),
        seededNode("n-mid", 0, { load: 0.5, active_jobs: 2 }),
        seededNode("n-off", 0, { available: false }),
        seededNode("n-pending", 0, { liveness: "pending" })
      ])
      const reply = yield* discover(dir.url, `intent=${CHAT}`)
      expect(reply.status).toBe(200)
      expect(reply.headers.get("cache-control")).toBe(DISCOVER_CACHE_CONTROL)
      expect(reply.headers.get("cache-control")).toBe("public, max-age=5, s-maxage=10, stale-while-revalidate=5")
      expect(Number.isInteger(reply.json.count)).toBe(true)
      expect(reply.json.nodes.map((n: { node_id: string }) => n.node_id)).toEqual(["n-idle", "n-mid", "n-busy"])
      const scores = scoresOf(reply)
      expect([...scores].sort((a, b) => b - a)).toEqual(scores)
      for (const node of reply.json.nodes) {
        expect(node.available).toBe(true)
        expect(node.score).toBeGreaterThanOrEqual(0.1)
        expect(node.score).toBeLessThanOrEqual(1)
      }
      expect(reply.json).toMatchObject({ count: 3, relay_available: false, view: "dispatch" })
      expect(typeof reply.json.query_ms).toBe("number")
    })
  )

  it.scoped("ties are broken by node_id ascending", () =>
    Effect.gen(function* () {
      const dir = yield* seeded(["zeta", "alpha", "mu"].map((id) => seededNode(id, 0)))
      expect((yield* discover(dir.url, `intent=${CHAT}`)).json.nodes.map((n: { node_id: string }) => n.node_id)).toEqual(["alpha", "mu", "zeta"])
    })
  )

  it.scoped("DIR-DISC-05: limit default 10, clamped to 1..50, non-numeric → 422", () =>
    Effect.gen(function* () {
      const dir = yield* seeded(Array.from({ length: 60 }, (_, i) => seededNode(`node-${String(i).padStart(2, "0")}`, 0)))
      expect((yield* discover(dir.url, `intent=${CHAT}`)).json.count).toBe(10)
      expect((yield* discover(dir.url, `intent=${CHAT}&limit=3`)).json.count).toBe(3)
      expect((yield* discover(dir.url, `intent=${CHAT}&limit=500`)).json.count).toBe(50)
      expect((yield* discover(dir.url, `intent=${CHAT}&limit=0`)).json.count).toBe(1)
      expect((yield* discover(dir.url, `intent=${CHAT}&limit=-4`)).json.count).toBe(1)
      const bad = yield* discover(dir.url, `intent=${CHAT}&limit=ten`)
      expect(bad.status).toBe(422)
      expect(bad.json.error.code).toBe("validation_error")
    })
  )

  it.scoped("DIR-DISC-06: region is a preference; a match ranks first but non-matches stay", () =>
    Effect.gen(function* () {
      const dir = yield* seeded([seededNode("a-us", 0, { region: "us-east" }), seededNode("b-eu", 0, { region: "eu-central" })])
      const reply = yield* discover(dir.url, `intent=${CHAT}&region=eu-central`)
      expect(reply.json.nodes.map((n: { node_id: string; score: number }) => [n.node_id, n.score])).toEqual([
        ["b-eu", 0.95],
        ["a-us", 0.86]
      ])
    })
  )

  it.scoped("DIR-DISC-07: a score below 0.1 is excluded", () =>
    Effect.gen(function* () {
      const hopeless = seededNode("hopeless", 0, {
        availability: [{ start: "00:00", end: "23:59", share: 0 }],
        load: 1,
        active_jobs: 4,
        reputation: 0
      })
      const dir = yield* seeded([hopeless, seededNode("fine", 0)])
      const reply = yield* discover(dir.url, `intent=${CHAT}`)
      expect(reply.json.nodes.map((n: { node_id: string }) => n.node_id)).toEqual(["fine"])
    })
  )

  it.scoped("DIR-DISC-09/10/11 and query validation: min_reputation, intent, qos", () =>
    Effect.gen(function* () {
      const dir = yield* seeded([seededNode("rep-low", 0), seededNode("rep-high", 0, { reputation: 0.9 }), seededNode("vendor", 0, { capabilities: [{ intent: "urn:iicp:intent:x.acme:summarize:v2", models: [] }] })])
      const expect422 = (query: string, code = "validation_error") =>
        Effect.map(discover(dir.url, query), (reply) => {
          expect(reply.status, query).toBe(422)
          expect(reply.json.error.code, query).toBe(code)
        })
      yield* expect422(`intent=${CHAT}&min_reputation=2.0`)
      yield* expect422(`intent=${CHAT}&min_reputation=-0.1`)
      yield* expect422(`intent=${CHAT}&min_reputation=high`)
      yield* expect422("")
      yield* expect422("intent=")
      yield* expect422("intent=urn:iicp:intent:llm:chat")
      yield* expect422("intent=urn:iicp:intent:social-scoring:score:v1", "IICP-POLICY-001")
      yield* expect422(`intent=${CHAT}&qos=urgent`)
      for (const qos of ["realtime", "interactive", "batch", "best-effort", "best_effort"]) {
        expect((yield* discover(dir.url, `intent=${CHAT}&qos=${qos}`)).status).toBe(200)
      }
      const filtered = yield* discover(dir.url, `intent=${CHAT}&min_reputation=0.6`)
      expect(filtered.json.nodes.map((n: { node_id: string }) => n.node_id)).toEqual(["rep-high"])
      const vendor = yield* discover(dir.url, "intent=urn:iicp:intent:x.acme:summarize:v2")
      expect(vendor.status).toBe(200)
      expect(vendor.json.count).toBe(1)
    })
  )

  it.scoped("model demotes non-matching nodes without removing them; relay_capable filters", () =>
    Effect.gen(function* () {
      const dir = yield* seeded([
        seededNode("has-model", 0, { capabilities: [{ intent: CHAT, models: ["llama3"] }] }),
        seededNode("relay", 0, { relay_capable: true, relay_accept_port: 9485 })
      ])
      const byModel = yield* discover(dir.url, `intent=${CHAT}&model=llama3`)
      expect(byModel.json.nodes.map((n: { node_id: string; score: number }) => [n.node_id, n.score])).toEqual([
        // No declared pricing → $ = 0.5: 0.25 + 0.20 + 0.15 + 0.05 + 0.05 + 0.10·M + 0.05
        ["has-model", 0.85],
        ["relay", 0.75]
      ])
      for (const flag of ["true", "1"]) {
        const relays = yield* discover(dir.url, `intent=${CHAT}&relay_capable=${flag}`)
        expect(relays.json.nodes.map((n: { node_id: string }) => n.node_id)).toEqual(["relay"])
        expect(relays.json.nodes[0]).toMatchObject({ relay_capable: true, relay_accept_port: 9485 })
        expect(relays.json.relay_available).toBe(true)
      }
    })
  )

  it.scoped("projection: always-present members, this intent's capability only, echoed fields, cip_policy boolean, relay tier", () =>
    Effect.gen(function* () {
      const node = seededNode("full", 0, {
        capabilities: [
          { intent: CHAT, models: ["a"], max_tokens: 8192 },
          { intent: TRANSLATE, models: ["b"] }
        ],
        transport_method: "turn_relay",
        transport_endpoint: "iicp://full.example.net:9484",
        exposure_mode: "relay_required",
        sdk_language: "python",
        sdk_version: "0.7.3",
        policy: { allow_remote_inference: "yes" }
      })
      const dir = yield* seeded([node, seededNode("plain", 0)])
      const nodes = (yield* discover(dir.url, `intent=${CHAT}`)).json.nodes
      const full = nodes.find((n: { node_id: string }) => n.node_id === "full")
      expect(full).toMatchObject({
        endpoint: "http://full.example.net:8020",
        region: "eu-central",
        available: true,
        load: 0,
        active_jobs: 0,
        max_concurrent: 4,
        models: ["a"],
        capabilities: [{ intent: CHAT, models: ["a"], max_tokens: 8192 }],
        reputation_score: 0.5,
        latency_estimate_ms: null,
        last_seen: "1970-01-01T00:00:00Z",
        relay_capable: false,
        reachability_tier: "relay",
        transport_method: "turn_relay",
        transport_endpoint: "iicp://full.example.net:9484",
        exposure_mode: "relay_required",
        sdk_language: "python",
        sdk_version: "0.7.3",
        cip_policy: { allow_remote_inference: false }
      })
      const plain = nodes.find((n: { node_id: string }) => n.node_id === "plain")
      for (const absent of ["transport", "transport_method", "cip_policy", "nat_type", "relay_accept_port"]) expect(plain).not.toHaveProperty(absent)
      expect(plain.reachability_tier).toBe("direct")
    })
  )

  it.scoped("availability windows: the covering window's share, 0.5 outside every window (TestClock time of day)", () =>
    Effect.gen(function* () {
      const dir = yield* seeded([seededNode("windowed", 0, { availability: [{ start: "00:00", end: "01:00", share: 0.2 }] })])
      // A = 0.2 → 0.35·0.2 + 0.28 + 0.18 + 0.045 + 0.05
      expect(scoresOf(yield* discover(dir.url, `intent=${CHAT}`))).toEqual([0.625])
      yield* TestClock.adjust("61 minutes")
      // Seen again at 01:01 UTC, outside its only window: A = 0.5 → 0.175 + 0.28 + 0.18 + 0.045 + 0.05
      yield* dir.store.putNode(seededNode("windowed", 61 * 60_000, { availability: [{ start: "00:00", end: "01:00", share: 0.2 }] }))
      expect(scoresOf(yield* discover(dir.url, `intent=${CHAT}`))).toEqual([0.73])
    })
  )

  it.scoped("QoS probation is off by default (both reference clients send qos=interactive) and opt-in", () =>
    Effect.gen(function* () {
      const nodes = [
        seededNode("newcomer", 0),
        seededNode("veteran", 0, { tasks_completed: 150 }),
        seededNode("elite", 0, { tasks_completed: 5000, reputation: 0.9 })
      ]
      const names = (reply: { json: { nodes: Array<{ node_id: string }> } }) => reply.json.nodes.map((n) => n.node_id).sort()
      const open = yield* seeded(nodes)
      expect(names(yield* discover(open.url, `intent=${CHAT}&qos=interactive`))).toEqual(["elite", "newcomer", "veteran"])
      const store = createMemoryStore()
      for (const node of nodes) yield* store.putNode(node)
      const strict = yield* directory({ liveness: "off", qosProbation: true }, store)
      expect(names(yield* discover(strict.url, `intent=${CHAT}&qos=interactive`))).toEqual(["elite", "veteran"])
      expect(names(yield* discover(strict.url, `intent=${CHAT}&qos=realtime`))).toEqual(["elite"])
      expect(names(yield* discover(strict.url, `intent=${CHAT}&qos=batch`))).toEqual(["elite", "newcomer", "veteran"])
    })
  )
})
