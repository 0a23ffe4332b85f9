import { createHmac } from "node:crypto"
import { it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { describe, expect } from "vitest"
import { createMemoryStore } from "../../src/directory/store/memory.js"
import { CHAT, call, directory, discover, registerNode, registration } from "./helpers.js"

const setup = Effect.gen(function* () {
  const store = createMemoryStore()
  const dir = yield* directory({ liveness: "off" }, store)
  const ack = yield* registerNode(dir.url, registration("http://127.0.0.1:8020", { node_id: "hb-node" }))
  /** One beat; `token` null sends no Authorization header. */
  const beat = (body: Record<string, unknown> = {}, token: string | null = ack.node_token, path = "/v1/heartbeat") =>
    call(`${dir.url}${path}`, { body: { node_id: "hb-node", ...body }, headers: token === null ? {} : { authorization: `Bearer ${token}` } })
  return { store, dir, ack, beat }
})

describe("POST /v1/heartbeat", () => {
  it.scoped("DIR-HB-01: a valid beat → 200 PONG", () =>
    Effect.gen(function* () {
      const { beat } = yield* setup
      const pong = yield* beat({ status: "available", available: true, load: 0.25, active_jobs: 1, max_concurrent: 4 })
      expect(pong.status).toBe(200)
      expect(pong.json).toMatchObject({
        ok: true,
        next_heartbeat_ms: 30000,
        reputation_score: 0.5,
        reputation_model: "outcome-v2",
        reputation_epoch: 1,
        metrics_batch_accepted: false
      })
      expect(pong.json.challenge).toMatch(/^[0-9a-f]{32}$/)
    })
  )

  it.scoped("DIR-HB-02/03: wrong token → 401, unknown node → 404 not_found, no caller id → 422", () =>
    Effect.gen(function* () {
      const { dir, beat } = yield* setup
      const wrong = yield* beat({}, "0".repeat(64))
      expect(wrong.status).toBe(401)
      expect(wrong.json.error.code).toBe("unauthorized")
      expect((yield* beat({}, null)).status).toBe(401)
      expect((yield* call(`${dir.url}/v1/heartbeat`, { body: { node_id: "hb-node" }, headers: { authorization: "Basic abc" } })).status).toBe(401)
      const unknown = yield* beat({ node_id: "ghost" })
      expect(unknown.status).toBe(404)
      expect(unknown.json.error.code).toBe("not_found")
      const anonymous = yield* call(`${dir.url}/v1/heartbeat`, { body: {} })
      expect(anonymous.status).toBe(422)
    })
  )

  it.scoped("DIR-HB-04: silent for more than 90 s → absent from discover; one beat restores it (TestClock)", () =>
    Effect.gen(function* () {
      const { dir, beat } = yield* setup
      const count = () => Effect.map(discover(dir.url, `intent=${CHAT}`), (r) => r.json.count as number)
      expect(yield* count()).toBe(1)
      yield* TestClock.adjust("90 seconds")
      expect(yield* count()).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(yield* count()).toBe(0)
      expect((yield* beat()).status).toBe(200)
      expect(yield* count()).toBe(1)
    })
  )

  it.scoped("fields apply: available false hides the node, load is clamped, a beat without available restores it", () =>
    Effect.gen(function* () {
      const { dir, beat, store } = yield* setup
      yield* beat({ available: false })
      expect((yield* discover(dir.url, `intent=${CHAT}`)).json.count).toBe(0)
      yield* beat({ load: 7, active_jobs: 2, max_concurrent: 8 })
      expect(yield* store.getNode("hb-node")).toMatchObject({ available: true, load: 1, active_jobs: 2, max_concurrent: 8 })
      const node = (yield* discover(dir.url, `intent=${CHAT}`)).json.nodes[0]
      expect(node).toMatchObject({ load: 1, active_jobs: 2, max_concurrent: 8 })
    })
  )

  it.scoped("Rust SDK 0.2: token only in the body, /api/api/v1 path; Python: header and body both", () =>
    Effect.gen(function* () {
      const { beat, ack } = yield* setup
      expect((yield* beat({ node_token: ack.node_token }, null, "/api/api/v1/heartbeat")).status).toBe(200)
      expect((yield* beat({ node_token: "0".repeat(64) }, null, "/api/v1/heartbeat")).status).toBe(401)
      expect((yield* beat({ node_token: ack.node_token })).status).toBe(200)
      // The header wins when both are present.
      expect((yield* beat({ node_token: ack.node_token }, "0".repeat(64))).status).toBe(401)
    })
  )

  it.scoped("caller id from X-Node-Id or the query when the body has none", () =>
    Effect.gen(function* () {
      const { dir, ack } = yield* setup
      const auth = { authorization: `Bearer ${ack.node_token}` }
      expect((yield* call(`${dir.url}/v1/heartbeat`, { body: {}, headers: { ...auth, "x-node-id": "hb-node" } })).status).toBe(200)
      expect((yield* call(`${dir.url}/v1/heartbeat?node_id=hb-node`, { method: "POST", headers: auth })).status).toBe(200)
    })
  )

  it.scoped("metrics count once per batch id; outcome-v2 caps the gain per beat (+0.10) and per hour (+0.20)", () =>
    Effect.gen(function* () {
      const { beat, store } = yield* setup
      const batch = (id: string, metrics: Record<string, number>) => beat({ metrics, metrics_batch_id: id })
      const first = yield* batch("b1", { tasks_success: 50, tasks_failed: 0 })
      expect(first.json).toMatchObject({ metrics_batch_accepted: true, reputation_score: 0.6 })
      const replay = yield* batch("b1", { tasks_success: 50 })
      expect(replay.json).toMatchObject({ metrics_batch_accepted: false, reputation_score: 0.6 })
      expect((yield* batch("b2", { tasks_success: 50 })).json.reputation_score).toBe(0.7)
      expect((yield* batch("b3", { tasks_success: 50 })).json.reputation_score).toBe(0.7)
      expect((yield* batch("b4", { tasks_failed: 1, tasks_timeout: 1 })).json.reputation_score).toBe(0.55)
      yield* TestClock.adjust("1 hours")
      expect((yield* batch("b5", { tasks_success: 3 })).json.reputation_score).toBe(0.58)
      expect((yield* store.getNode("hb-node"))?.tasks_completed).toBe(153)
      const invalidId = yield* batch("bad\u0001id", { tasks_success: 3 })
      expect(invalidId.status).toBe(200)
      expect(invalidId.json.metrics_batch_accepted).toBe(false)
    })
  )

  it.scoped("a wrong challenge_response is recorded, not rejected; a right one is not counted", () =>
    Effect.gen(function* () {
      const { beat, ack, store } = yield* setup
      const pong = yield* beat()
      const right = createHmac("sha256", ack.node_hmac_key).update(pong.json.challenge).digest("hex")
      const next = yield* beat({ challenge_response: right })
      expect(next.status).toBe(200)
      expect((yield* store.getNode("hb-node"))?.challenge_failures).toBe(0)
      expect((yield* beat({ challenge_response: "00" })).status).toBe(200)
      expect((yield* store.getNode("hb-node"))?.challenge_failures).toBe(1)
    })
  )

  it.scoped("DELETE /v1/register: query node_id works (bodies dropped by some stacks); wrong token 401; unknown 404", () =>
    Effect.gen(function* () {
      const { dir, ack } = yield* setup
      const wrong = yield* call(`${dir.url}/v1/register?node_id=hb-node`, { method: "DELETE", headers: { authorization: "Bearer nope" } })
      expect(wrong.status).toBe(401)
      const gone = yield* call(`${dir.url}/v1/register?node_id=hb-node`, { method: "DELETE", headers: { authorization: `Bearer ${ack.node_token}` } })
      expect(gone.json).toEqual({ deregistered: true })
      expect((yield* discover(dir.url, `intent=${CHAT}`)).json.count).toBe(0)
      const again = yield* call(`${dir.url}/v1/register?node_id=hb-node`, { method: "DELETE", headers: { authorization: `Bearer ${ack.node_token}` } })
      expect(again.status).toBe(404)
    })
  )
})
