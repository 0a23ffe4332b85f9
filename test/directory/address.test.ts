import { it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { describe, expect } from "vitest"
import { clientIpOf } from "../../src/directory/client-ip.js"
import { createMemoryStore } from "../../src/directory/store/memory.js"
import { call, directory, registerNode, registration } from "./helpers.js"

describe("observed source address (§6.12)", () => {
  it.scoped("DIR-ADDR-01/02: the ACK carries the client IP, stored per node independent of the endpoint, with a history row", () =>
    Effect.gen(function* () {
      const store = createMemoryStore()
      const dir = yield* directory({ liveness: "off" }, store)
      const ack = yield* registerNode(dir.url, registration("http://node.example.net:8020", { node_id: "addr" }))
      expect(ack.observed_source_ip).toBe("127.0.0.1")
      expect((yield* store.getNode("addr"))?.observed_source_ip).toBe("127.0.0.1")
      expect(yield* store.addressHistory("addr")).toEqual([{ node_id: "addr", type: "register", ip: "127.0.0.1", at_ms: 0 }])
    })
  )

  it.scoped("DIR-ADDR-03/06: a heartbeat from a new address refreshes it and appends one immutable row; an unchanged address adds none", () =>
    Effect.gen(function* () {
      const store = createMemoryStore()
      const dir = yield* directory({ liveness: "off" }, store)
      const ack = yield* registerNode(dir.url, registration("http://node.example.net:8020", { node_id: "mover" }), { "x-forwarded-for": "198.51.100.23" })
      const beat = (ip: string) =>
        call(`${dir.url}/v1/heartbeat`, { body: { node_id: "mover" }, headers: { authorization: `Bearer ${ack.node_token}`, "x-forwarded-for": ip } })
      yield* TestClock.adjust("30 seconds")
      yield* beat("198.51.100.23")
      yield* beat("203.0.113.77")
      yield* TestClock.adjust("30 seconds")
      yield* beat("203.0.113.77")
      expect(yield* store.addressHistory("mover")).toEqual([
        { node_id: "mover", type: "register", ip: "198.51.100.23", at_ms: 0 },
        { node_id: "mover", type: "heartbeat", ip: "203.0.113.77", at_ms: 30_000 }
      ])
    })
  )

  it.scoped("DIR-ADDR-04/07: GET /v1/me returns the current address only, with Bearer + caller id", () =>
    Effect.gen(function* () {
      const dir = yield* directory({ liveness: "off" })
      const ack = yield* registerNode(dir.url, registration("http://node.example.net:8020", { node_id: "me-node" }), { "x-forwarded-for": "198.51.100.23" })
      yield* call(`${dir.url}/v1/heartbeat`, { body: { node_id: "me-node" }, headers: { authorization: `Bearer ${ack.node_token}`, "cf-connecting-ip": "203.0.113.5" } })
      const me = yield* call(`${dir.url}/api/v1/me`, { headers: { authorization: `Bearer ${ack.node_token}`, "x-node-id": "me-node" } })
      expect(me.status).toBe(200)
      expect(me.json).toEqual({ node_id: "me-node", observed_source_ip: "203.0.113.5", endpoint: "http://node.example.net:8020" })
      expect((yield* call(`${dir.url}/v1/me`, { headers: { authorization: `Bearer ${ack.node_token}` } })).status).toBe(422)
      expect((yield* call(`${dir.url}/v1/me?node_id=ghost`, { headers: { authorization: `Bearer ${ack.node_token}` } })).status).toBe(404)
      expect((yield* call(`${dir.url}/v1/me?node_id=me-node`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401)
    })
  )

  it("DIR-ADDR-05: CF-Connecting-IP, else the first X-Forwarded-For entry, only behind a loopback or private peer", () => {
    const headers = { "cf-connecting-ip": "203.0.113.5", "x-forwarded-for": "198.51.100.1, 10.0.0.2" }
    expect(clientIpOf("127.0.0.1", headers)).toBe("203.0.113.5")
    expect(clientIpOf("::ffff:10.1.1.1", { "x-forwarded-for": "198.51.100.1, 10.0.0.2" })).toBe("198.51.100.1")
    expect(clientIpOf("::1", { "x-forwarded-for": "not-an-ip" })).toBe("::1")
    // A public peer cannot spoof its address (DIR-RL-01 would be evaded otherwise).
    expect(clientIpOf("8.8.8.8", headers)).toBe("8.8.8.8")
    expect(clientIpOf("::ffff:8.8.4.4", {})).toBe("8.8.4.4")
  })
})
