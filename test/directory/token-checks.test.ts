/**
 * The slow-token-check budget: with no digest remembered (a restart), wrong tokens cost scrypt
 * runs only up to a per-node and a per-IP budget; past it every route answers 429 without hashing.
 */
import { it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { describe, expect } from "vitest"
import { TOKEN_CHECK_IP_LIMIT, TOKEN_CHECK_NODE_LIMIT, TOKEN_CHECK_WINDOW_MS } from "../../src/constants.js"
import { resolveConfig } from "../../src/directory/config.js"
import { startServer } from "../../src/directory/server.js"
import { createMemoryStore } from "../../src/directory/store/memory.js"
import type { DirectoryStoreApi } from "../../src/directory/store/types.js"
import { createTokenVerifier, scryptHash } from "../../src/directory/tokens.js"
import type { SlowHash } from "../../src/directory/tokens.js"
import { silentLogger } from "../../src/runtime/log.js"
import { call, directory, registerNode, registration, seededNode } from "./helpers.js"

/** A slow hash that counts its runs. */
const counted = (hash: SlowHash) => {
  let runs = 0
  const slowHash: SlowHash = (secret, salt) =>
    Effect.suspend(() => {
      runs += 1
      return hash(secret, salt)
    })
  return { slowHash, runs: () => runs }
}

/** A directory over `store` that remembers no token digests yet, as after a restart. */
const restarted = (store: DirectoryStoreApi, slowHash: SlowHash) =>
  startServer({
    port: 0,
    host: "127.0.0.1",
    config: resolveConfig({ liveness: "off" }),
    store,
    logger: silentLogger,
    tokens: createTokenVerifier(slowHash)
  }).pipe(Effect.orDie)

const WRONG = "0".repeat(64)
const bearer = (token: string, clientIp = "198.51.100.20") => ({ authorization: `Bearer ${token}`, "cf-connecting-ip": clientIp })

describe("slow node-token checks are budgeted", () => {
  it.scoped("past the per-node budget every authenticated route answers 429 without scrypt; the right token works after the window", () =>
    Effect.gen(function* () {
      const store = createMemoryStore()
      const first = yield* directory({ liveness: "off" }, store)
      const ack = yield* registerNode(first.url, registration("http://127.0.0.1:8020", { node_id: "tc-node" }))
      const scrypt = counted(scryptHash)
      const dir = yield* restarted(store, scrypt.slowHash)
      const beat = (token: string, clientIp?: string) =>
        call(`${dir.url}/v1/heartbeat`, { body: { node_id: "tc-node" }, headers: bearer(token, clientIp) })

      // Each from another address: the node's own budget applies whoever asks.
      for (let i = 0; i < TOKEN_CHECK_NODE_LIMIT; i++) expect((yield* beat(WRONG, `198.51.100.${i + 1}`)).status).toBe(401)
      expect(scrypt.runs()).toBe(TOKEN_CHECK_NODE_LIMIT)

      const refused = yield* beat(WRONG, "203.0.113.9")
      expect(refused.status).toBe(429)
      expect(refused.json.error).toMatchObject({ code: "rate_limited", retry_after: TOKEN_CHECK_WINDOW_MS / 1000, retry_after_ms: TOKEN_CHECK_WINDOW_MS })
      expect(refused.headers.get("retry-after")).toBe(String(TOKEN_CHECK_WINDOW_MS / 1000))
      const others = [
        yield* call(`${dir.url}/v1/me`, { headers: { ...bearer(ack.node_token), "x-node-id": "tc-node" } }),
        yield* call(`${dir.url}/v1/register`, { method: "DELETE", body: { node_id: "tc-node" }, headers: bearer(ack.node_token) }),
        yield* call(`${dir.url}/v1/consumer-token`, { body: { node_id: "tc-node", target_node_id: "tc-node" }, headers: bearer(ack.node_token) }),
        yield* call(`${dir.url}/v1/credits/balance?node_id=tc-node`, { headers: bearer(ack.node_token) }),
        yield* beat(ack.node_token)
      ]
      expect(others.map((reply) => reply.status)).toEqual([429, 429, 429, 429, 429])
      expect(scrypt.runs()).toBe(TOKEN_CHECK_NODE_LIMIT)
      expect(yield* store.getNode("tc-node")).toBeDefined()

      yield* TestClock.adjust(TOKEN_CHECK_WINDOW_MS)
      expect((yield* beat(ack.node_token)).status).toBe(200)
      expect(scrypt.runs()).toBe(TOKEN_CHECK_NODE_LIMIT + 1)
      // Now remembered: right and wrong tokens are told apart by digest, with no scrypt and no budget.
      for (let i = 0; i < TOKEN_CHECK_NODE_LIMIT + 1; i++) expect((yield* beat(WRONG)).status).toBe(401)
      expect((yield* beat(ack.node_token)).status).toBe(200)
      expect(scrypt.runs()).toBe(TOKEN_CHECK_NODE_LIMIT + 1)
    })
  )

  it.scoped("one address spraying wrong tokens over many nodes is cut off at its own budget; other addresses are not", () =>
    Effect.gen(function* () {
      const store = createMemoryStore()
      for (let i = 0; i <= TOKEN_CHECK_IP_LIMIT; i++) yield* store.putNode(seededNode(`spray-${i}`, 0))
      // Seeded hashes match no token, so a stand-in for scrypt shows the same answers, quickly.
      const hasher = counted(() => Effect.succeed(Buffer.alloc(32)))
      const dir = yield* restarted(store, hasher.slowHash)
      const beat = (nodeId: string, clientIp: string) =>
        call(`${dir.url}/v1/heartbeat`, { body: { node_id: nodeId }, headers: bearer(WRONG, clientIp) })

      for (let i = 0; i < TOKEN_CHECK_IP_LIMIT; i++) expect((yield* beat(`spray-${i}`, "203.0.113.50")).status).toBe(401)
      expect((yield* beat(`spray-${TOKEN_CHECK_IP_LIMIT}`, "203.0.113.50")).status).toBe(429)
      expect(hasher.runs()).toBe(TOKEN_CHECK_IP_LIMIT)
      expect((yield* beat(`spray-${TOKEN_CHECK_IP_LIMIT}`, "203.0.113.51")).status).toBe(401)
      expect(hasher.runs()).toBe(TOKEN_CHECK_IP_LIMIT + 1)
    })
  )
})
