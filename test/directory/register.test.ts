import { it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { describe, expect } from "vitest"
import { createMemoryStore } from "../../src/directory/store/memory.js"
import { CHAT, call, closedPort, directory, discover, eventually, healthServer, registerNode, registration } from "./helpers.js"

const ids = (reply: { json: { nodes: Array<{ node_id: string }> } }) => reply.json.nodes.map((n) => n.node_id)

describe("POST /v1/register", () => {
  it.scoped("DIR-REG-01/05/06/07: 201 ACK, 64-hex token, UUIDv4 id assigned, only a scrypt hash stored", () =>
    Effect.gen(function* () {
      const store = createMemoryStore()
      const dir = yield* directory({ liveness: "off" }, store)
      const reply = yield* call(`${dir.url}/v1/register`, { body: registration("http://127.0.0.1:8020") })
      expect(reply.status).toBe(201)
      expect(reply.json).toMatchObject({ message_type: "ACK", expires_at: null, directory: dir.url, observed_source_ip: "127.0.0.1", recovered: false })
      expect(reply.json.node_token).toMatch(/^[0-9a-f]{64}$/)
      expect(reply.json.node_hmac_key).toMatch(/^[0-9a-f]{32}$/)
      expect(reply.json.node_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      const stored = yield* store.getNode(reply.json.node_id)
      expect(stored?.token_hash).toMatch(/^scrypt\$[0-9a-f]{32}\$[0-9a-f]{64}$/)
      expect(JSON.stringify(store.snapshot())).not.toContain(reply.json.node_token)
    })
  )

  it.scoped("DIR-REG-02/03: missing endpoint or capabilities → 422 validation_error", () =>
    Effect.gen(function* () {
      const dir = yield* directory({ liveness: "off" })
      const { endpoint: _e, ...noEndpoint } = registration("http://127.0.0.1:8020")
      const { capabilities: _c, ...noCapabilities } = registration("http://127.0.0.1:8020")
      for (const body of [noEndpoint, noCapabilities]) {
        const reply = yield* call(`${dir.url}/v1/register`, { body })
        expect(reply.status).toBe(422)
        expect(reply.json.error.code).toBe("validation_error")
      }
    })
  )

  it.scoped("field table: each bad value → 422 validation_error naming the field", () =>
    Effect.gen(function* () {
      const dir = yield* directory({ liveness: "off" })
      const base = registration("http://127.0.0.1:8020")
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ endpoint: "ftp://x.example.net" }, "endpoint"],
        [{ endpoint: "http://user:pw@x.example.net" }, "endpoint"],
        [{ endpoint: "http://x.example.net/#frag" }, "endpoint"],
        [{ endpoint: `http://x.example.net/${"a".repeat(2050)}` }, "endpoint"],
        [{ capabilities: [] }, "capabilities"],
        [{ capabilities: [{ intent: "bad-intent" }] }, "intent"],
        [{ capabilities: [{ intent: CHAT }, { intent: CHAT }] }, "duplicate"],
        [{ capabilities: [{ intent: CHAT, models: ["m".repeat(129)] }] }, "models"],
        [{ capabilities: [{ intent: CHAT, max_tokens: 0 }] }, "max_tokens"],
        [{ capabilities: [{ intent: CHAT, input_modalities: ["smell"] }] }, "input_modalities"],
        [{ capabilities: Array.from({ length: 33 }, (_, i) => ({ intent: `urn:iicp:intent:t${i}:v1` })) }, "capabilities"],
        [{ region: "r".repeat(65) }, "region"],
        [{ node_id: "-bad id" }, "node_id"],
        [{ limits: { max_concurrent: -1 } }, "max_concurrent"],
        [{ limits: { max_concurrent: 1.5 } }, "max_concurrent"],
        [{ transport_method: "carrier_pigeon" }, "transport_method"],
        [{ exposure_mode: "wide_open" }, "exposure_mode"],
        [{ transport_endpoint: "http://x.example.net:9484" }, "transport_endpoint"],
        [{ relay_capable: "yes" }, "relay_capable"],
        [{ relay_capable: true, relay_accept_port: 70000 }, "relay_accept_port"],
        [{ availability: [{ start: "25:00", end: "10:00", share: 0.5 }] }, "availability"],
        [{ availability: [{ start: "08:00", end: "10:00", share: 2 }] }, "availability"],
        [{ pricing: { credit_cost_multiplier: 1001, pricing_model: "flat" } }, "pricing"],
        [{ pricing: { credit_cost_multiplier: 1, pricing_model: "barter" } }, "pricing"],
        [{ node_hmac_key: "short" }, "node_hmac_key"]
      ]
      for (const [patch, field] of cases) {
        const reply = yield* call(`${dir.url}/v1/register`, { body: { ...base, ...patch } })
        expect(reply.status, field).toBe(422)
        expect(reply.json.error.code).toBe("validation_error")
        expect(reply.json.error.message).toContain(field)
      }
    })
  )

  it.scoped("DIR-REG-08/09: unknown members accepted; defaults for region and limits; unknown/unreachable transport dropped; odd nat_type stored as unknown", () =>
    Effect.gen(function* () {
      const store = createMemoryStore()
      const dir = yield* directory({ liveness: "off" }, store)
      const ack = yield* registerNode(dir.url, {
        node_id: "custom-node.1",
        endpoint: "http://127.0.0.1:8020/",
        capabilities: [{ intent: CHAT, models: ["m"], quantization: "q4_k_m", inference_engine: "llama.cpp" }],
        transport_method: "unreachable",
        nat_type: "weird",
        surprise: { nested: true }
      })
      expect(ack.node_id).toBe("custom-node.1")
      const stored = yield* store.getNode("custom-node.1")
      expect(stored).toMatchObject({ endpoint: "http://127.0.0.1:8020", region: "unknown", max_concurrent: 1, nat_type: "unknown" })
      expect(stored?.transport_method).toBeUndefined()
      expect(stored?.capabilities).toEqual([{ intent: CHAT, models: ["m"] }])
    })
  )

  it.scoped("policy: a prohibited or high-risk intent → 422 IICP-POLICY-001", () =>
    Effect.gen(function* () {
      const dir = yield* directory({ liveness: "off" })
      for (const intent of ["urn:iicp:intent:social-scoring:score:v1", "urn:iicp:intent:credit:decision:v1"]) {
        const reply = yield* call(`${dir.url}/v1/register`, { body: registration("http://127.0.0.1:8020", { capabilities: [{ intent }] }) })
        expect(reply.status).toBe(422)
        expect(reply.json.error.code).toBe("IICP-POLICY-001")
      }
    })
  )

  it.scoped("Rust SDK 0.2 flat body {node_id, endpoint, intent, model, capabilities: [string]} is rebuilt", () =>
    Effect.gen(function* () {
      const store = createMemoryStore()
      const dir = yield* directory({ liveness: "off" }, store)
      yield* registerNode(dir.url, { node_id: "rs-node", endpoint: "http://127.0.0.1:8020", intent: CHAT, model: "llama3", capabilities: ["llama3", "phi3"] })
      const stored = yield* store.getNode("rs-node")
      expect(stored?.capabilities).toEqual([{ intent: CHAT, models: ["llama3", "phi3"] }])
      expect(stored).toMatchObject({ region: "unknown", max_concurrent: 1 })
      const found = yield* discover(dir.url, `intent=${CHAT}`)
      expect(found.json.nodes[0]).toMatchObject({ node_id: "rs-node", region: "unknown" })
    })
  )

  it.scoped("400 on malformed JSON, 413 over the body cap, 422 for a non-object body", () =>
    Effect.gen(function* () {
      const dir = yield* directory({ liveness: "off", maxBodyBytes: 4096 })
      const malformed = yield* call(`${dir.url}/v1/register`, { body: "{not json" })
      expect(malformed.status).toBe(400)
      expect(malformed.json.error.code).toBe("validation_error")
      const large = yield* call(`${dir.url}/v1/register`, { body: { pad: "x".repeat(5000) } })
      expect(large.status).toBe(413)
      expect(large.json.error.code).toBe("payload_too_large")
      const array = yield* call(`${dir.url}/v1/register`, { body: [1, 2] })
      expect(array.status).toBe(422)
    })
  )

  it.scoped("the default cap is 1 MiB: 1 MiB + 1 byte → 413", () =>
    Effect.gen(function* () {
      const dir = yield* directory({ liveness: "off" })
      const reply = yield* call(`${dir.url}/v1/register`, { body: `"${"x".repeat(1_048_576 - 1)}"` })
      expect(reply.status).toBe(413)
    })
  )

  it.scoped("DIR-REG-04: strict liveness refuses a dead endpoint with 422 liveness_failed / IICP-E036 and accepts a live one", () =>
    Effect.gen(function* () {
      const dir = yield* directory({ liveness: "strict" })
      const dead = yield* closedPort()
      const refused = yield* call(`${dir.url}/v1/register`, { body: registration(`http://127.0.0.1:${dead}`) })
      expect(refused.status).toBe(422)
      expect(refused.json.error).toMatchObject({ code: "liveness_failed", iicp_code: "IICP-E036" })
      const live = yield* healthServer()
      const accepted = yield* call(`${dir.url}/v1/register`, { body: registration(live.url) })
      expect(accepted.status).toBe(201)
      expect(live.hits()).toBe(1)
      const unhealthy = yield* healthServer(503)
      expect((yield* call(`${dir.url}/v1/register`, { body: registration(unhealthy.url) })).status).toBe(422)
    })
  )

  it.scoped("RT-04: a concrete nat_type with a transport_method skips the probe even when strict", () =>
    Effect.gen(function* () {
      const dir = yield* directory({ liveness: "strict" })
      const dead = yield* closedPort()
      const reply = yield* call(`${dir.url}/v1/register`, {
        body: registration(`http://127.0.0.1:${dead}`, { nat_type: "full_cone", transport_method: "direct" })
      })
      expect(reply.status).toBe(201)
    })
  )

  it.scoped("deferred liveness (local default): accepted, out of discover until a probe 3 s later succeeds", () =>
    Effect.gen(function* () {
      const dir = yield* directory()
      const live = yield* healthServer()
      const ack = yield* registerNode(dir.url, registration(live.url))
      expect(ids(yield* discover(dir.url, `intent=${CHAT}`))).toEqual([])
      yield* TestClock.adjust("2999 millis")
      expect(live.hits()).toBe(0)
      yield* TestClock.adjust("1 millis")
      const found = yield* eventually(discover(dir.url, `intent=${CHAT}`), (r) => r.json.count === 1)
      expect(ids(found)).toEqual([ack.node_id])
    })
  )

  it.scoped("deferred liveness: a node whose endpoint is dead stays out of discover; a later heartbeat re-probes", () =>
    Effect.gen(function* () {
      const dir = yield* directory()
      const health = yield* healthServer(503)
      const ack = yield* registerNode(dir.url, registration(health.url))
      yield* TestClock.adjust("3 seconds")
      yield* eventually(Effect.sync(health.hits), (n) => n === 1)
      const beat = yield* call(`${dir.url}/v1/heartbeat`, { body: { node_id: ack.node_id }, headers: { authorization: `Bearer ${ack.node_token}` } })
      expect(beat.status).toBe(200)
      yield* eventually(Effect.sync(health.hits), (n) => n === 2)
      expect((yield* discover(dir.url, `intent=${CHAT}`)).json.count).toBe(0)
    })
  )

  it.scoped("re-registering at a verified endpoint stays discoverable (deferred); strict probes every register", () =>
    Effect.gen(function* () {
      const deferred = yield* directory()
      const live = yield* healthServer()
      const ack = yield* registerNode(deferred.url, registration(live.url, { node_id: "steady" }))
      yield* TestClock.adjust("3 seconds")
      yield* eventually(discover(deferred.url, `intent=${CHAT}`), (r) => r.json.count === 1)
      yield* registerNode(deferred.url, registration(live.url, { node_id: "steady", current_node_token: ack.node_token }))
      expect(ids(yield* discover(deferred.url, `intent=${CHAT}`))).toEqual(["steady"])

      const strict = yield* directory({ liveness: "strict" })
      const health = yield* healthServer()
      yield* registerNode(strict.url, registration(health.url, { node_id: "again" }))
      yield* registerNode(strict.url, registration(health.url, { node_id: "again" }))
      expect(health.hits()).toBe(2)
    })
  )

  it.scoped("IICP-E035: production refuses non-routable endpoints; local mode allows them", () =>
    Effect.gen(function* () {
      const production = yield* directory({ mode: "production", liveness: "off" })
      for (const endpoint of [
        "http://127.0.0.1:8020",
        "http://localhost:8020",
        "http://node.local:8020",
        "http://printer:8020",
        "http://10.1.2.3:8020",
        "http://[::1]:8020",
        "http://[fe80::1]:8020",
        "http://192.0.2.10:8020",
        "http://[::ffff:192.168.1.1]:8020",
        "http://does-not-exist.invalid:8020"
      ]) {
        const reply = yield* call(`${production.url}/v1/register`, { body: registration(endpoint) })
        expect(reply.status, endpoint).toBe(422)
        expect(reply.json.error.code).toBe("IICP-E035")
      }
      const local = yield* directory({ mode: "local", liveness: "off" })
      expect((yield* call(`${local.url}/v1/register`, { body: registration("http://node.local:8020") })).status).toBe(201)
    })
  )

  it.scoped("DIR-LIFECYCLE: re-register rotates the token (old 401, new 200) and keeps reputation; DELETE → deregistered", () =>
    Effect.gen(function* () {
      const store = createMemoryStore()
      const dir = yield* directory({ liveness: "off" }, store)
      const first = yield* registerNode(dir.url, registration("http://127.0.0.1:8020", { node_id: "life" }))
      const node = yield* store.getNode("life")
      yield* store.putNode({ ...node!, reputation: 0.7 })
      const second = yield* registerNode(dir.url, registration("http://127.0.0.1:8020", { node_id: "life", current_node_token: first.node_token }))
      expect(second.node_token).not.toBe(first.node_token)
      const beat = (token: string) =>
        call(`${dir.url}/v1/heartbeat`, { body: { node_id: "life" }, headers: { authorization: `Bearer ${token}` } })
      expect((yield* beat(first.node_token)).status).toBe(401)
      const ok = yield* beat(second.node_token)
      expect(ok.status).toBe(200)
      expect(ok.json.reputation_score).toBe(0.7)
      const gone = yield* call(`${dir.url}/v1/register`, { method: "DELETE", body: { node_id: "life" }, headers: { authorization: `Bearer ${second.node_token}` } })
      expect(gone.status).toBe(200)
      expect(gone.json).toEqual({ deregistered: true })
      expect((yield* beat(second.node_token)).status).toBe(404)
    })
  )

  it.scoped("ownership: a new endpoint without the token while the old one is alive → 403 IICP-E050; with the token or a dead old endpoint → 201", () =>
    Effect.gen(function* () {
      const dir = yield* directory({ liveness: "off" })
      const old = yield* healthServer()
      const first = yield* registerNode(dir.url, registration(old.url, { node_id: "owned" }))
      const hijack = yield* call(`${dir.url}/v1/register`, { body: registration("http://127.0.0.1:1", { node_id: "owned" }) })
      expect(hijack.status).toBe(403)
      expect(hijack.json.error).toMatchObject({ code: "forbidden", iicp_code: "IICP-E050" })
      const wrongToken = yield* call(`${dir.url}/v1/register`, {
        body: registration("http://127.0.0.1:1", { node_id: "owned", current_node_token: "f".repeat(64) })
      })
      expect(wrongToken.status).toBe(403)
      const moved = yield* call(`${dir.url}/v1/register`, {
        body: registration("http://127.0.0.1:2", { node_id: "owned", current_node_token: first.node_token })
      })
      expect(moved.status).toBe(201)
      // The endpoint now on record (127.0.0.1:2) is dead, so a move without a token is allowed.
      expect((yield* call(`${dir.url}/v1/register`, { body: registration("http://127.0.0.1:3", { node_id: "owned" }) })).status).toBe(201)
    })
  )

  it.scoped("ownership: a changed cx_public_key needs the current token → 403 IICP-E049", () =>
    Effect.gen(function* () {
      const dir = yield* directory({ liveness: "off" })
      const first = yield* registerNode(dir.url, registration("http://127.0.0.1:8020", { node_id: "keyed", cx_public_key: "aa".repeat(32) }))
      const refused = yield* call(`${dir.url}/v1/register`, { body: registration("http://127.0.0.1:8020", { node_id: "keyed", cx_public_key: "bb".repeat(32) }) })
      expect(refused.status).toBe(403)
      expect(refused.json.error.iicp_code).toBe("IICP-E049")
      const allowed = yield* call(`${dir.url}/v1/register`, {
        body: registration("http://127.0.0.1:8020", { node_id: "keyed", cx_public_key: "bb".repeat(32), current_node_token: first.node_token })
      })
      expect(allowed.status).toBe(201)
    })
  )

  it.scoped("an operator-supplied node_hmac_key is adopted", () =>
    Effect.gen(function* () {
      const dir = yield* directory({ liveness: "off" })
      const ack = yield* registerNode(dir.url, registration("http://127.0.0.1:8020", { node_hmac_key: "operator-key-0123456789" }))
      expect(ack.node_hmac_key).toBe("operator-key-0123456789")
    })
  )
})
