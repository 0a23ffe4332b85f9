import { it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { describe, expect } from "vitest"
import { publicKeyFromHex, verifyConsumerToken } from "../../src/protocol/consumer-token.js"
import { createMemoryStore } from "../../src/directory/store/memory.js"
import { CHAT, call, directory, registerNode, registration } from "./helpers.js"

describe("routes, envelopes and keys", () => {
  it.scoped("every route answers under /v1, /api/v1 and /api/api/v1; health at the root", () =>
    Effect.gen(function* () {
      const dir = yield* directory({ liveness: "off" })
      for (const prefix of ["", "/api", "/api/api"]) {
        const reply = yield* call(`${dir.url}${prefix}/v1/discover?intent=${CHAT}`)
        expect(reply.status, prefix).toBe(200)
        expect((yield* call(`${dir.url}${prefix}/v1/directory-key`)).status).toBe(200)
      }
      for (const path of ["/health", "/iicp/health", "//v1/bootstrap/"]) {
        const reply = yield* call(`${dir.url}${path}`)
        expect(reply.status, path).toBe(200)
      }
      expect((yield* call(`${dir.url}/health`)).json).toEqual({ ok: true, version: "0.1.0" })
    })
  )

  it.scoped("404 and 405 are JSON envelopes; 501 for dispatch tickets", () =>
    Effect.gen(function* () {
      const dir = yield* directory()
      const missing = yield* call(`${dir.url}/v1/nothing-here`)
      expect(missing.status).toBe(404)
      expect(missing.headers.get("content-type")).toBe("application/json")
      expect(missing.json.error.code).toBe("not_found")
      const wrongMethod = yield* call(`${dir.url}/v1/register`, { method: "GET" })
      expect(wrongMethod.status).toBe(405)
      expect(wrongMethod.json.error.code).toBe("method_not_allowed")
      expect(wrongMethod.headers.get("allow")).toBe("POST, DELETE")
      const dispatch = yield* call(`${dir.url}/v1/dispatch/ticket`, { body: {} })
      expect(dispatch.status).toBe(501)
      expect(dispatch.json.error.code).toBe("not_implemented")
    })
  )

  it.scoped("DIR-CRED-01..03, DIR-TEL-01: credits and telemetry → 401 without a valid token, 501 with one", () =>
    Effect.gen(function* () {
      const dir = yield* directory({ liveness: "off" })
      const ack = yield* registerNode(dir.url, registration("http://127.0.0.1:8020", { node_id: "cred" }))
      const routes: Array<[string, string]> = [
        ["GET", "/v1/credits/balance"],
        ["GET", "/v1/credits/transactions"],
        ["POST", "/v1/credits/award"],
        ["POST", "/v1/telemetry"]
      ]
      for (const [method, path] of routes) {
        const body = method === "POST" ? {} : undefined
        expect((yield* call(`${dir.url}${path}`, { method, body })).status, path).toBe(401)
        expect((yield* call(`${dir.url}${path}`, { method, body, headers: { authorization: "Bearer nope", "x-node-id": "cred" } })).status).toBe(401)
        const ok = yield* call(`${dir.url}${path}`, { method, body, headers: { authorization: `Bearer ${ack.node_token}`, "x-node-id": "cred" } })
        expect(ok.status, path).toBe(501)
      }
      const audit = yield* call(`${dir.url}/v1/audit-report`, { body: { node_id: "cred" }, headers: { authorization: `Bearer ${ack.node_token}` } })
      expect(audit.status).toBe(202)
      expect(audit.json).toEqual({ accepted: true })
    })
  )

  it.scoped("GET with a JSON content type (and even a bad body) and DELETE with a JSON body are accepted", () =>
    Effect.gen(function* () {
      const dir = yield* directory({ liveness: "off" })
      const ack = yield* registerNode(dir.url, registration("http://127.0.0.1:8020", { node_id: "del" }))
      const get = yield* call(`${dir.url}/v1/bootstrap`, { method: "GET", headers: { "content-type": "application/json" } })
      expect(get.status).toBe(200)
      expect(get.json.peers.map((p: { node_id: string }) => p.node_id)).toEqual(["del"])
      const del = yield* call(`${dir.url}/v1/register`, { method: "DELETE", body: { node_id: "del", node_token: ack.node_token } })
      expect(del.json).toEqual({ deregistered: true })
    })
  )

  it.scoped("GET /v1/node/{id} (DIR-NODE-01/02) and bootstrap (DIR-BS-01/02)", () =>
    Effect.gen(function* () {
      const dir = yield* directory({ liveness: "off" })
      yield* registerNode(dir.url, registration("http://127.0.0.1:8020", {
        node_id: "detail",
        relay_capable: true,
        capabilities: [{ intent: CHAT, models: ["a"] }, { intent: "urn:iicp:intent:translate:v1", models: ["b"] }]
      }))
      const detail = yield* call(`${dir.url}/v1/node/detail`)
      expect(detail.status).toBe(200)
      expect(detail.json).toMatchObject({ node_id: "detail", available: true, last_seen: "1970-01-01T00:00:00Z", relay_capable: true, relay_accept_port: 9485, models: ["a", "b"] })
      expect(detail.json.capabilities).toHaveLength(2)
      expect((yield* call(`${dir.url}/v1/node/nobody`)).json.error.code).toBe("not_found")
      expect((yield* call(`${dir.url}/v1/node/%E0%A4%A`)).status).toBe(404)
      yield* TestClock.adjust("10 seconds")
      yield* registerNode(dir.url, registration("http://127.0.0.1:8021", { node_id: "fresher" }))
      const peers = yield* call(`${dir.url}/v1/bootstrap`)
      expect(peers.json.peers.map((p: { node_id: string }) => p.node_id)).toEqual(["fresher", "detail"])
      expect(peers.json.peers[1]).toEqual({
        node_id: "detail",
        endpoint: "http://127.0.0.1:8020",
        region: "eu-central",
        last_seen: "1970-01-01T00:00:00Z",
        relay_capable: true,
        relay_accept_port: 9485,
        load: 0,
        reputation_score: 0.5
      })
      expect((yield* call(`${dir.url}/v1/bootstrap?limit=1`)).json.count).toBe(1)
      yield* TestClock.adjust("81 seconds")
      expect((yield* call(`${dir.url}/v1/bootstrap`)).json.peers.map((p: { node_id: string }) => p.node_id)).toEqual(["fresher"])
    })
  )

  it.scoped("consumer tokens: signed by the published key, aud = target, exp = iat + 300; 404 unknown target; 429 after 60 a minute", () =>
    Effect.gen(function* () {
      const dir = yield* directory({ liveness: "off" })
      const caller = yield* registerNode(dir.url, registration("http://127.0.0.1:8020", { node_id: "caller" }))
      yield* registerNode(dir.url, registration("http://127.0.0.1:8021", { node_id: "target" }))
      yield* TestClock.adjust("1000 seconds")
      const key = yield* call(`${dir.url}/v1/directory-key`)
      expect(key.json.algorithm).toBe("ed25519")
      expect(key.json.public_key).toMatch(/^[0-9a-f]{64}$/)
      const auth = { authorization: `Bearer ${caller.node_token}`, "x-node-id": "caller" }
      const issued = yield* call(`${dir.url}/v1/consumer-token`, { body: { target_node_id: "target", intent: CHAT }, headers: auth })
      expect(issued.status).toBe(201)
      expect(issued.json).toMatchObject({ caller_node_id: "caller", target_node_id: "target", intent: CHAT, expires_at: "1970-01-01T00:21:40Z" })
      const verified = verifyConsumerToken(issued.json.token, publicKeyFromHex(key.json.public_key)!, { nodeId: "target", intent: CHAT, nowSeconds: 1000 })
      expect(verified.ok && verified.claims).toEqual({ v: 1, iss: dir.url, sub: "caller", aud: "target", intent: CHAT, iat: 1000, exp: 1300 })
      const unknown = yield* call(`${dir.url}/v1/consumer-token`, { body: { target_node_id: "nobody", intent: CHAT }, headers: auth })
      expect(unknown.status).toBe(404)
      expect((yield* call(`${dir.url}/v1/consumer-token`, { body: { target_node_id: "target" }, headers: { ...auth, authorization: "Bearer x" } })).status).toBe(401)
      expect((yield* call(`${dir.url}/v1/consumer-token`, { body: { target_node_id: "target", intent: "nope" }, headers: auth })).status).toBe(422)
      for (let i = 0; i < 58; i++) expect((yield* call(`${dir.url}/v1/consumer-token`, { body: { target_node_id: "target" }, headers: auth })).status).toBe(201)
      const limited = yield* call(`${dir.url}/v1/consumer-token`, { body: { target_node_id: "target" }, headers: auth })
      expect(limited.status).toBe(429)
      expect(limited.json.error.code).toBe("rate_limited")
    })
  )

  it.scoped("relay bind tickets are signed over the relay domain with exp = iat + 120", () =>
    Effect.gen(function* () {
      const dir = yield* directory({ liveness: "off" })
      const worker = yield* registerNode(dir.url, registration("http://127.0.0.1:8020", { node_id: "worker" }))
      const reply = yield* call(`${dir.url}/v1/relay/ticket`, { body: { node_id: "worker" }, headers: { authorization: `Bearer ${worker.node_token}` } })
      expect(reply.status).toBe(201)
      expect(reply.json).toMatchObject({ worker_node_id: "worker", relay_node_id: "*", algorithm: "ed25519" })
      const claims = JSON.parse(Buffer.from(reply.json.ticket.split(".")[0], "base64url").toString())
      expect(claims).toMatchObject({ v: 1, typ: "relay-bind-ticket", sub: "worker", aud: "*", iat: 0, exp: 120 })
      expect(claims.jti).toMatch(/^[0-9a-f]{32}$/)
    })
  )

  it.scoped("garbage never crashes the server and errors never echo tokens", () =>
    Effect.gen(function* () {
      const dir = yield* directory({ liveness: "off" })
      const secret = "a".repeat(64)
      const replies = [
        yield* call(`${dir.url}/v1/heartbeat`, { body: "\u0000\u0001{", headers: { authorization: `Bearer ${secret}` } }),
        yield* call(`${dir.url}/v1/heartbeat`, { body: "[]", headers: { authorization: `Bearer ${secret}` } }),
        yield* call(`${dir.url}/v1/heartbeat`, { body: { node_id: { $ne: 1 } }, headers: { authorization: `Bearer ${secret}` } }),
        yield* call(`${dir.url}/v1/register`, { body: { endpoint: 42, capabilities: "x", node_token: secret } }),
        yield* call(`${dir.url}/v1/consumer-token`, { body: "null" }),
        yield* call(`${dir.url}/v1/discover?intent=%ZZ`)
      ]
      for (const reply of replies) {
        expect(reply.status).toBeGreaterThanOrEqual(400)
        expect(reply.status).toBeLessThan(500)
        expect(reply.json.error.code).toEqual(expect.any(String))
        expect(reply.text).not.toContain(secret)
        expect(reply.text).not.toMatch(/at .*\.(ts|js):\d+/)
      }
      expect((yield* call(`${dir.url}/health`)).status).toBe(200)
    })
  )

  it.scoped("a fault inside a handler answers 500 internal_error without the fault's text, and the server keeps serving", () =>
    Effect.gen(function* () {
      const faulty = { ...createMemoryStore(), getNode: () => Effect.die(new Error("disk on fire at /var/lib/secret/dir.json")) }
      const dir = yield* directory({ liveness: "off" }, faulty)
      const reply = yield* call(`${dir.url}/v1/heartbeat`, { body: { node_id: "x" }, headers: { authorization: "Bearer t" } })
      expect(reply.status).toBe(500)
      expect(reply.json).toEqual({ error: { code: "internal_error", message: "internal error" } })
      expect((yield* call(`${dir.url}/health`)).status).toBe(200)
    })
  )
})
