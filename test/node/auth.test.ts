/** Authentication modes (WIRE.md §5.7): SEC-AUTH-01/02, SEC-RN-01/02, NODE-TASK-05, consumer tokens, open-mode rate limit. */
import { createServer } from "node:http"
import type { Server } from "node:http"
import { Agent, request } from "undici"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { generateSigningKeyPair, signToken } from "../../src/protocol/consumer-token.js"
import { echoBackend, IicpNode } from "../../src/node/index.js"
import { secretsEqual } from "../../src/node/auth.js"
import { baseUrl, closeServer, listen, sendJson } from "../../src/runtime/http-server.js"
import { call, CHAT, chatTask, startTestNode } from "./helpers.js"

const OPERATOR_TOKEN = "operator-secret-7f3a"

describe("access mode token", () => {
  let url: string
  let stop: () => Promise<void>
  beforeAll(async () => {
    const node = await startTestNode(echoBackend(), {}, { nodeToken: OPERATOR_TOKEN })
    url = node.url
    stop = node.server.stop
  })
  afterAll(() => stop())

  it("health reports auth_mode token (serve's nodeToken is the operator token)", async () => {
    expect((await call(`${url}/iicp/health`)).json.auth_mode).toBe("token")
  })

  it("SEC-AUTH-01, SEC-RN-01/02, NODE-TASK-05: missing or empty credential → 401 unauthorized", async () => {
    for (const headers of [{}, { authorization: "Bearer " }, { authorization: "" }, { authorization: "Basic abc" }]) {
      const res = await call(`${url}/v1/task`, { body: chatTask(), headers })
      expect(res.status).toBe(401)
      expect(res.json.error.code).toBe("unauthorized")
    }
    const emptyInBody = await call(`${url}/v1/task`, { body: chatTask({ auth: { node_token: "", token: "" } }) })
    expect(emptyInBody.status).toBe(401)
  })

  it("SEC-AUTH-02: a wrong credential → 401 without saying which check failed", async () => {
    const res = await call(`${url}/v1/task`, { body: chatTask(), headers: { authorization: `Bearer ${OPERATOR_TOKEN}x` } })
    expect(res.status).toBe(401)
    expect(res.json.error.message).toBe("missing or invalid credential")
    expect(res.text).not.toContain(OPERATOR_TOKEN)
  })

  it("the operator token is accepted as Bearer, auth.node_token and auth.token", async () => {
    const bearer = await call(`${url}/v1/task`, { body: chatTask(), headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })
    const nodeToken = await call(`${url}/v1/task`, { body: chatTask({ auth: { node_token: OPERATOR_TOKEN } }) })
    const token = await call(`${url}/v1/task`, { body: chatTask({ auth: { token: OPERATOR_TOKEN } }) })
    expect([bearer.status, nodeToken.status, token.status]).toEqual([200, 200, 200])
  })

  it("authentication comes before validation: an invalid unauthenticated body gets 401, not 422", async () => {
    expect((await call(`${url}/v1/task`, { body: { task_id: "bad" } })).status).toBe(401)
  })
})

describe("constant-time comparison", () => {
  it("equal strings match, different lengths and empty strings never do", () => {
    expect(secretsEqual("abc", "abc")).toBe(true)
    expect(secretsEqual("abc", "abcd")).toBe(false)
    expect(secretsEqual("", "")).toBe(false)
    expect(secretsEqual("", "abc")).toBe(false)
  })
})

describe("configuration", () => {
  it("access token without an operator token fails serve with invalid_config, never a silently open node", async () => {
    const node = new IicpNode({ intent: CHAT, access: "token" })
    await expect(node.serve(echoBackend(), { port: 0, host: "127.0.0.1" })).rejects.toMatchObject({ code: "invalid_config" })
  })
})

describe("access mode token+consumer", () => {
  const keys = generateSigningKeyPair()
  let directory: Server
  let keyFetches = 0
  let url: string
  let stop: () => Promise<void>
  const nodeId = "node-consumer-1"
  const now = () => Math.floor(Date.now() / 1000)
  const consumerToken = (claims: Partial<Record<string, unknown>> = {}, privateKeyHex = keys.privateKeyHex) =>
    signToken({ v: 1, iss: "dir", sub: "client", aud: nodeId, intent: CHAT, iat: now(), exp: now() + 300, ...claims }, privateKeyHex)

  beforeAll(async () => {
    directory = createServer((req, res) => {
      if (req.url === "/v1/directory-key") {
        keyFetches += 1
        return sendJson(res, 200, { public_key: keys.publicKeyHex, algorithm: "ed25519" })
      }
      sendJson(res, 404, { error: { code: "not_found", message: "no" } })
    })
    const port = await listen(directory, 0, "127.0.0.1")
    const node = await startTestNode(
      echoBackend(),
      { nodeId, access: "token+consumer", directoryUrl: baseUrl("127.0.0.1", port), operatorToken: OPERATOR_TOKEN },
      {}
    )
    url = node.url
    stop = node.server.stop
  })
  afterAll(async () => {
    await stop()
    await closeServer(directory)
  })

  it("a valid consumer token is accepted; the key is fetched once and cached", async () => {
    for (let i = 0; i < 3; i++) {
      const res = await call(`${url}/v1/task`, { body: chatTask(), headers: { "x-iicp-consumer-token": consumerToken() } })
      expect(res.status).toBe(200)
    }
    expect(keyFetches).toBe(1)
    expect((await call(`${url}/iicp/health`)).json.auth_mode).toBe("token+consumer")
  })

  it("the operator token still works", async () => {
    const res = await call(`${url}/v1/task`, { body: chatTask(), headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })
    expect(res.status).toBe(200)
  })

  it.each([
    ["another audience", { aud: "someone-else" }],
    ["another intent", { intent: "urn:iicp:intent:translate:v1" }],
    ["expired beyond the 10 s skew", { exp: Math.floor(Date.now() / 1000) - 11 }],
    ["a wrong version", { v: 2 }]
  ])("%s → 401", async (_name, claims) => {
    const res = await call(`${url}/v1/task`, { body: chatTask(), headers: { "x-iicp-consumer-token": consumerToken(claims) } })
    expect(res.status).toBe(401)
  })

  it("a wildcard intent is accepted", async () => {
    const res = await call(`${url}/v1/task`, { body: chatTask(), headers: { "x-iicp-consumer-token": consumerToken({ intent: "*" }) } })
    expect(res.status).toBe(200)
  })

  it("a token signed by another key → 401, and the refetch it triggers is rate-limited to one per 60 s", async () => {
    const other = generateSigningKeyPair()
    const before = keyFetches
    for (let i = 0; i < 3; i++) {
      const res = await call(`${url}/v1/task`, { body: chatTask(), headers: { "x-iicp-consumer-token": consumerToken({}, other.privateKeyHex) } })
      expect(res.status).toBe(401)
    }
    expect(keyFetches - before).toBeLessThanOrEqual(1)
  })
})

describe("access mode open", () => {
  it("accepts without credentials but rate-limits one client IP", async () => {
    const { url, server } = await startTestNode(echoBackend(), { openRateLimit: { limit: 3, windowMs: 60_000 } })
    try {
      const statuses: Array<number> = []
      for (let i = 0; i < 5; i++) statuses.push((await call(`${url}/v1/task`, { body: chatTask() })).status)
      expect(statuses).toEqual([200, 200, 200, 429, 429])
      const limited = await call(`${url}/v1/task`, { body: chatTask() })
      expect(limited.json.error.code).toBe("rate_limited")
      expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0)
      // §1.3: the body's hints agree with the header.
      expect(limited.json.error.retry_after).toBe(Number(limited.headers["retry-after"]))
      expect(limited.json.error.retry_after_ms).toBe(Number(limited.headers["retry-after"]) * 1000)
      expect((await call(`${url}/iicp/health`)).json.auth_mode).toBe("open")
    } finally {
      await server.stop()
    }
  })

  it("counts each Origin on its own as well, across client addresses", async () => {
    const { url, server } = await startTestNode(echoBackend(), { openRateLimit: { limit: 2, windowMs: 60_000 } })
    // A second loopback address stands in for another client IP.
    const otherClient = new Agent({ localAddress: "127.0.0.2" })
    try {
      const fromOther = async (headers: Record<string, string>) =>
        (await request(`${url}/v1/task`, {
          method: "POST",
          dispatcher: otherClient,
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify(chatTask())
        })).statusCode
      const first = await call(`${url}/v1/task`, { body: chatTask(), headers: { origin: "https://a.example" } })
      const second = await call(`${url}/v1/task`, { body: chatTask(), headers: { origin: "https://a.example" } })
      expect([first.status, second.status]).toEqual([200, 200])
      expect(await fromOther({ origin: "https://a.example" })).toBe(429)
      expect(await fromOther({})).toBe(200)
    } finally {
      await otherClient.close()
      await server.stop()
    }
  })
})
