/**
 * The discover answer cache survives beats that change nothing discover shows, and never hides a
 * change it does show (load, availability, a node back from silence).
 */
import { it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { describe, expect, it as plainIt } from "vitest"
import { changesDiscover } from "../../src/directory/discover-cache.js"
import { projectNode } from "../../src/directory/projection.js"
import { scoreNode } from "../../src/directory/scoring.js"
import { createMemoryStore } from "../../src/directory/store/memory.js"
import type { NodeRecord } from "../../src/directory/store/types.js"
import { CHAT, call, directory, discover, registerNode, registration, seededNode } from "./helpers.js"

const setup = Effect.gen(function* () {
  const store = createMemoryStore()
  // A cache far longer than the default, so only invalidation can replace an answer.
  const dir = yield* directory({ liveness: "off", discoverCacheMs: 600_000 }, store)
  const ack = yield* registerNode(dir.url, registration("http://127.0.0.1:8020", { node_id: "cached-node" }))
  const beat = (body: Record<string, unknown> = {}) =>
    call(`${dir.url}/v1/heartbeat`, { body: { node_id: "cached-node", ...body }, headers: { authorization: `Bearer ${ack.node_token}` } })
  return { store, beat, ask: () => discover(dir.url, `intent=${CHAT}`) }
})

describe("discover answer cache", () => {
  it.scoped("a beat that changes nothing discover shows keeps the cached answer; one that changes load replaces it", () =>
    Effect.gen(function* () {
      const { store, beat, ask } = yield* setup
      const first = yield* ask()
      expect(first.json.nodes[0]).toMatchObject({ load: 0, last_seen: "1970-01-01T00:00:00Z" })

      yield* TestClock.adjust("2 seconds")
      expect((yield* beat({ available: true })).status).toBe(200)
      expect((yield* store.getNode("cached-node"))?.last_seen_ms).toBe(2_000)
      // Recomputed, the answer would say 00:00:02; the same bytes mean it was served from the cache.
      expect((yield* ask()).text).toBe(first.text)

      expect((yield* beat({ load: 0.5 })).status).toBe(200)
      const changed = yield* ask()
      expect(changed.json.nodes[0]).toMatchObject({ load: 0.5, last_seen: "1970-01-01T00:00:02Z" })
      expect(changed.json.nodes[0].score).toBeLessThan(first.json.nodes[0].score)

      expect((yield* beat({ load: 0.5, available: false })).status).toBe(200)
      expect((yield* ask()).json.count).toBe(0)
    })
  )

  it.scoped("a node back from silence shows at once, though its beat changes nothing else", () =>
    Effect.gen(function* () {
      const { beat, ask } = yield* setup
      expect((yield* ask()).json.count).toBe(1)
      yield* TestClock.adjust("91 seconds")
      expect((yield* ask()).json.count).toBe(0)
      expect((yield* beat()).status).toBe(200)
      expect((yield* ask()).json.count).toBe(1)
    })
  )
})

describe("changesDiscover", () => {
  const base = seededNode("n", 0, { load: 0.2, active_jobs: 1, avg_latency_ms: 40, tasks_completed: 3, challenge: "ab" })
  /** What discover can show of a record: eligibility inputs, score and projection (last_seen aside, see discover-cache). */
  const shown = (record: NodeRecord) => {
    const score = scoreNode(record, record.capabilities[0]!.models, {}, 0)
    const { last_seen: _lastSeen, ...projection } = projectNode(record, record.capabilities, score, record.available)
    return { projection, score, liveness: record.liveness, tasks: record.tasks_completed }
  }
  const altered = (value: unknown): unknown => {
    if (typeof value === "number") return value + 0.25
    if (typeof value === "string") return `${value}0`
    if (typeof value === "boolean") return !value
    return Array.isArray(value) ? [...value, "x"] : { ...(value as object), extra: 1 }
  }

  plainIt("reports no change only when nothing discover shows changed, whichever field moves", () => {
    for (const [key, value] of Object.entries(base)) {
      const next = { ...base, [key]: altered(value) } as NodeRecord
      if (!changesDiscover(base, next)) expect(shown(next), key).toEqual(shown(base))
    }
  })

  plainIt("reports the beat fields discover reads, and a return from silence", () => {
    for (const change of [{ load: 0.9 }, { active_jobs: 3 }, { max_concurrent: 8 }, { available: false }, { reputation: 0.6 }, { avg_latency_ms: 90 }, { tasks_completed: 4 }, { liveness: "pending" as const }]) {
      expect(changesDiscover(base, { ...base, ...change }), JSON.stringify(change)).toBe(true)
    }
    expect(changesDiscover(base, { ...base, load: undefined } as unknown as NodeRecord)).toBe(true)
    const { load: _load, ...withoutLoad } = base
    expect(changesDiscover(withoutLoad, base)).toBe(true)
    expect(changesDiscover(base, { ...base, last_seen_ms: 90_000, challenge: "cd", metrics_batches: ["b1"] })).toBe(false)
    expect(changesDiscover(base, { ...base, last_seen_ms: 90_001 })).toBe(true)
  })
})
