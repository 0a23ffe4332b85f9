/**
 * The Promise client against real HTTP servers on 127.0.0.1 (directory and nodes written here):
 * SDK-01..06, selection, parsing, failure paths, failover and redaction. Paths that wait on a
 * back-off or deadline are in client-clock.test.ts under TestClock.
 */
import { inspect } from "node:util"
import { afterEach, describe, expect, it } from "vitest"
import { DIRECTORY_CALL_TIMEOUT_MS } from "../../src/constants.js"
import { IicpClient, IicpError, isUuidV4, isValidTraceparent } from "../../src/index.js"
import type { IicpClientConfig } from "../../src/index.js"
import type { Behaviour, DirectoryEntry, FakeServer } from "./fixtures.js"
import { closeAll, completion, nestedError, startDirectory, startNode, success } from "./fixtures.js"

const servers: Array<FakeServer> = []
const clients: Array<IicpClient> = []

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await closeAll(servers.splice(0))
})

/** Starts one scripted node per script and a directory listing them in order. */
const mesh = async (scripts: ReadonlyArray<ReadonlyArray<Behaviour>>, extra: Partial<DirectoryEntry>[] = []) => {
  const nodes = await Promise.all(scripts.map((s) => startNode(s)))
  const entries = nodes.map((n, i) => ({ node_id: `node-${i}`, endpoint: n.url, ...extra[i] }))
  const directory = await startDirectory({ nodes: entries })
  servers.push(directory, ...nodes)
  return { directory, nodes }
}

const clientFor = (directory: FakeServer, config: IicpClientConfig = {}) => {
  const client = new IicpClient({ directoryUrl: directory.url, timeoutMs: 5_000, ...config })
  clients.push(client)
  return client
}

const failure = async (promise: Promise<unknown>): Promise<IicpError> => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e
  )
  expect(error).toBeInstanceOf(IicpError)
  return error as IicpError
}

const taskBody = (node: FakeServer, i = 0) => node.requests[i]?.body as Record<string, unknown>

describe("configuration (SDK-04, SDK-05, §4.1)", () => {
  it("rejects timeoutMs 120001 at construction and accepts 120000", () => {
    expect(() => new IicpClient({ timeoutMs: 120_001 })).toThrow(expect.objectContaining({ code: "invalid_config" }))
    const ok = new IicpClient({ timeoutMs: 120_000 })
    clients.push(ok)
  })

  it("refuses tlsVerify=false unless IICP_ALLOW_INSECURE_TLS=1", async () => {
    const before = process.env["IICP_ALLOW_INSECURE_TLS"]
    try {
      delete process.env["IICP_ALLOW_INSECURE_TLS"]
      expect(() => new IicpClient({ tlsVerify: false })).toThrow(expect.objectContaining({ code: "invalid_config" }))
      process.env["IICP_ALLOW_INSECURE_TLS"] = "1"
      clients.push(new IicpClient({ tlsVerify: false }))
    } finally {
      if (before === undefined) delete process.env["IICP_ALLOW_INSECURE_TLS"]
      else process.env["IICP_ALLOW_INSECURE_TLS"] = before
    }
  })

  it("bounds maxRetries (attempts in total) to 1–3 and rejects a non-http directory URL", () => {
    expect(() => new IicpClient({ maxRetries: 4 })).toThrow(expect.objectContaining({ code: "invalid_config" }))
    expect(() => new IicpClient({ maxRetries: 0 })).toThrow(expect.objectContaining({ code: "invalid_config" }))
    expect(() => new IicpClient({ directoryUrl: "ftp://x" })).toThrow(expect.objectContaining({ code: "invalid_config" }))
  })

  it("normalises the directory URL: trailing slashes and /v1 removed", async () => {
    const { directory } = await mesh([[success()]])
    const client = clientFor(directory, { directoryUrl: `${directory.url}/v1//` })
    await client.discover("urn:iicp:intent:llm:chat:v1")
    expect(directory.requests[0]?.path).toBe("/v1/discover")
  })
})

describe("intent checks before any I/O (SDK-03)", () => {
  it("an invalid URN fails with IICP-E001 and a policy intent with IICP-POLICY-001, contacting nobody", async () => {
    const { directory, nodes } = await mesh([[success()]])
    const client = clientFor(directory)
    expect((await failure(client.submit({ intent: "urn:iicp:intent:llm:chat", payload: {} }))).code).toBe("IICP-E001")
    expect((await failure(client.discover("bad-intent"))).code).toBe("IICP-E001")
    expect((await failure(client.submit({ intent: "urn:iicp:intent:social-scoring:score:v1", payload: {} }))).code).toBe("IICP-POLICY-001")
    expect((await failure(client.submit({ intent: "urn:iicp:intent:credit:decision:v1", payload: {} }))).code).toBe("IICP-POLICY-001")
    expect(directory.requests).toHaveLength(0)
    expect(nodes[0]!.requests).toHaveLength(0)
  })

  it("a per-task timeout outside 100–120000 is a validation_error before any I/O", async () => {
    const { directory } = await mesh([[success()]])
    const client = clientFor(directory)
    const error = await failure(client.submit({ intent: "urn:iicp:intent:llm:chat:v1", payload: {}, constraints: { timeout_ms: 120_001 } }))
    expect(error.code).toBe("validation_error")
    expect(directory.requests).toHaveLength(0)
  })
})

describe("chat and submit on the happy path (SDK-02, PROTO-MSG-01, TRACE-01)", () => {
  it("discovers, then sends one task with a UUIDv4, the traceparent of the discover, constraints and credentials", async () => {
    const { directory, nodes } = await mesh([[success("hello")]])
    const client = clientFor(directory, { operatorToken: "op-secret-token" })
    const chat = await client.chat([{ role: "user", content: "hi" }], { model: "echo-model", maxTokens: 16, temperature: 0.2 })
    expect(chat.choices[0]?.message.content).toBe("hello")
    expect(chat.model).toBe("echo-model")
    expect(chat.node_id).toBe("node-0")
    expect(chat.id).toBe(chat.task_id)
    expect(chat.usage.total_tokens).toBe(5)

    const discoverReq = directory.requests[0]!
    expect(discoverReq.url).toContain("intent=urn%3Aiicp%3Aintent%3Allm%3Achat%3Av1")
    expect(discoverReq.url).toContain("model=echo-model")
    expect(discoverReq.url).toContain("limit=10")
    const task = nodes[0]!.requests[0]!
    expect(task.path).toBe("/v1/task")
    expect(isValidTraceparent(task.headers["traceparent"])).toBe(true)
    expect(task.headers["traceparent"]).toBe(discoverReq.headers["traceparent"])
    expect(task.headers["authorization"]).toBe("Bearer op-secret-token")
    expect(task.headers["content-length"]).toBeDefined()
    const body = taskBody(nodes[0]!)
    expect(isUuidV4(body["task_id"])).toBe(true)
    expect(body["task_id"]).toBe(chat.task_id)
    expect(body["intent"]).toBe("urn:iicp:intent:llm:chat:v1")
    expect(body["payload"]).toEqual({ messages: [{ role: "user", content: "hi" }], model: "echo-model", max_tokens: 16, temperature: 0.2 })
    expect(body["constraints"]).toEqual({ timeout_ms: 5_000, qos: "interactive" })
    expect(body["auth"]).toEqual({ node_token: "op-secret-token" })
  })

  it("reuses one keep-alive connection per node across tasks, and close() ends it", async () => {
    const { directory, nodes } = await mesh([[success()]])
    const client = new IicpClient({ directoryUrl: directory.url })
    for (let i = 0; i < 6; i++) await client.chat([{ role: "user", content: "hi" }])
    expect(nodes[0]!.requests).toHaveLength(6)
    // Sequential tasks reuse pooled connections (undici may open a second before the first reports drained).
    expect(nodes[0]!.connections).toBeLessThanOrEqual(2)
    await client.close()
    await nodes[0]!.waitForAllClosed()
    expect((await failure(client.chat([{ role: "user", content: "hi" }]))).code).toBe("cancelled")
  })

  it("submit with { node } goes straight to that node, without discovery", async () => {
    const { directory, nodes } = await mesh([[success()]])
    const client = clientFor(directory)
    const res = await client.submit(
      { intent: "urn:iicp:intent:llm:chat:v1", payload: { messages: [{ role: "user", content: "x" }] } },
      { node: { node_id: "direct", endpoint: `${nodes[0]!.url}/` } }
    )
    expect(res.node_id).toBe("direct")
    expect(res.attempts).toBe(1)
    expect(directory.requests).toHaveLength(0)
    expect(nodes[0]!.requests[0]?.path).toBe("/v1/task")
  })

  it("accepts `completed`, a top-level `choices` body, and takes tokens_used from usage (§4.4)", async () => {
    const body = { status: "completed", ...completion("flat") }
    const { directory } = await mesh([[{ kind: "json", status: 200, body }]])
    const client = clientFor(directory)
    const res = await client.submit({ intent: "urn:iicp:intent:llm:chat:v1", payload: { messages: [] } })
    expect(res.status).toBe("completed")
    expect((res.result as { choices: Array<unknown> }).choices).toHaveLength(1)
    expect(res.metrics.tokens_used).toBe(5)
    const chat = await client.chat([{ role: "user", content: "hi" }])
    expect(chat.choices[0]?.message.content).toBe("flat")
  })

  it("fills §4.5 defaults and raises backend_error for a success without choices", async () => {
    const sparse = { status: "success", result: { choices: [{ message: { content: null } }] } }
    const { directory } = await mesh([[{ kind: "json", status: 200, body: sparse }, { kind: "json", status: 200, body: { status: "success", result: { text: "no choices" } } }]])
    const client = clientFor(directory)
    const chat = await client.chat([{ role: "user", content: "hi" }])
    expect(chat.choices[0]).toEqual({ index: 0, message: { role: "assistant", content: "" }, finish_reason: "stop" })
    expect(chat.usage).toEqual({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 })
    expect(chat.model).toBe("")
    expect((await failure(client.chat([{ role: "user", content: "hi" }]))).code).toBe("backend_error")
  })

  it("refuses a malformed chat before any I/O", async () => {
    const { directory } = await mesh([[success()]])
    const client = clientFor(directory)
    expect((await failure(client.chat([]))).code).toBe("validation_error")
    expect((await failure(client.chat([{ role: "robot" as "user", content: "x" }]))).code).toBe("validation_error")
    expect(directory.requests).toHaveLength(0)
  })
})

describe("discovery and selection (§4.1, §4.2)", () => {
  it("keeps the directory's order, drops unavailable nodes and passes scores through", async () => {
    const { directory, nodes } = await mesh([[success()], [success("second")], [success("third")]], [{ available: false }, { score: 0.42 }])
    const client = clientFor(directory)
    const list = await client.discover("urn:iicp:intent:llm:chat:v1", { limit: 2, region: "eu", minReputation: 0.3, qos: "batch" })
    expect(list.nodes.map((n) => n.node_id)).toEqual(["node-0", "node-1"])
    expect(list.nodes[1]?.score).toBe(0.42)
    expect(directory.requests[0]?.url).toMatch(/limit=2.*region=eu.*qos=batch.*min_reputation=0.3/)
    const chat = await client.chat([{ role: "user", content: "hi" }])
    expect(chat.node_id).toBe("node-1")
    expect(nodes[0]!.requests).toHaveLength(0)
  })

  it("reads data.nodes and drops entries without node_id or an http(s) endpoint", async () => {
    const node = await startNode([success()])
    const directory = await startDirectory({
      shape: "data",
      nodes: [{ node_id: "ftp", endpoint: "ftp://x" }, { endpoint: node.url } as DirectoryEntry, { node_id: "good", endpoint: node.url }]
    })
    servers.push(node, directory)
    const list = await clientFor(directory).discover("urn:iicp:intent:llm:chat:v1")
    expect(list.nodes.map((n) => n.node_id)).toEqual(["good"])
    expect(list.count).toBe(1)
  })

  it("falls back to /api once on a 404 and keeps that base", async () => {
    const node = await startNode([success()])
    const directory = await startDirectory({ apiOnly: true, nodes: [{ node_id: "n", endpoint: node.url }] })
    servers.push(node, directory)
    const client = clientFor(directory)
    await client.discover("urn:iicp:intent:llm:chat:v1")
    await client.discover("urn:iicp:intent:translate:v1")
    expect(directory.requests.map((r) => r.path)).toEqual(["/v1/discover", "/api/v1/discover", "/api/v1/discover"])
  })

  it("no candidate → IICP-E033 without contacting any node (PROXY-ERR-01)", async () => {
    const { directory, nodes } = await mesh([[success()]], [{ available: false }])
    const error = await failure(clientFor(directory).chat([{ role: "user", content: "hi" }]))
    expect(error.code).toBe("IICP-E033")
    expect(nodes[0]!.requests).toHaveLength(0)
  })

  it("an unreachable directory is an IicpError, not a transport exception", async () => {
    const directory = await startDirectory({ nodes: [] })
    const url = directory.url
    await directory.close()
    const client = new IicpClient({ directoryUrl: url })
    clients.push(client)
    const error = await failure(client.discover("urn:iicp:intent:llm:chat:v1"))
    expect(error.code).toBe("IICP-E004")
    expect(error.component).toBe("directory")
  })
})

describe("attempts and failover (§4.4, SDK-01, PROXY-ROUTE-03)", () => {
  it("a socket closed mid-request fails over to the next node (IICP-E004)", async () => {
    const { directory, nodes } = await mesh([[{ kind: "reset" }], [success("from B")]])
    const res = await clientFor(directory).submit({ intent: "urn:iicp:intent:llm:chat:v1", payload: {} })
    expect(res.node_id).toBe("node-1")
    expect(res.attempts).toBe(2)
    expect(taskBody(nodes[1]!)["task_id"]).toBe(taskBody(nodes[0]!)["task_id"])
  })

  it("a non-JSON 200 fails over; a capacity 429 fails over to the next node at once", async () => {
    const { directory, nodes } = await mesh([
      [{ kind: "text", status: 200, text: "<html>ok</html>" }],
      [nestedError(429, "capacity_exceeded", "node at capacity", { iicp_code: "IICP-E021", retry_after_ms: 2000 }, { "retry-after": "2" })],
      [success("third")]
    ])
    const started = Date.now()
    const res = await clientFor(directory).submit({ intent: "urn:iicp:intent:llm:chat:v1", payload: {} })
    expect(res.node_id).toBe("node-2")
    expect(nodes.map((n) => n.requests.length)).toEqual([1, 1, 1])
    // Only the non-JSON answer (IICP-E004) waits a back-off (≤ 240 ms); the capacity 429 adds nothing, not its 2 s hint.
    expect(Date.now() - started).toBeLessThan(1_900)
  })

  it.each([
    [400, "validation_error"],
    [401, "unauthorized"],
    [403, "forbidden"],
    [409, "conflict"],
    [413, "payload_too_large"],
    [422, "validation_error"],
    [500, "internal_error"],
    [502, "backend_error"]
  ])("a %i is terminal: one attempt, code %s kept", async (status, code) => {
    const { directory, nodes } = await mesh([[nestedError(status, code)], [success()]])
    const error = await failure(clientFor(directory).submit({ intent: "urn:iicp:intent:llm:chat:v1", payload: {} }))
    expect(error.code).toBe(code)
    expect(error.httpStatus).toBe(status)
    expect(error.retryable).toBe(false)
    expect(nodes[1]!.requests).toHaveLength(0)
  })

  it("reads the flat error shape and a 2xx carrying error_code (§3.1, §4.4)", async () => {
    const { directory } = await mesh([[{ kind: "json", status: 401, body: { code: "unauthorized", message: "bad credential" } }]])
    const error = await failure(clientFor(directory).submit({ intent: "urn:iicp:intent:llm:chat:v1", payload: {} }))
    expect(error.code).toBe("unauthorized")
    const inBand = await mesh([[{ kind: "json", status: 200, body: { status: "error", error_code: "E_BACKEND", result: null } }]])
    const backend = await failure(clientFor(inBand.directory).submit({ intent: "urn:iicp:intent:llm:chat:v1", payload: {} }))
    expect(backend.code).toBe("backend_error")
  })

  it("a 502 from a relay (relay-for endpoint or turn_relay node) fails over instead of ending the task", async () => {
    const relay = await startNode([nestedError(502, "IICP-E031", "worker lost")])
    const turn = await startNode([nestedError(502, "backend_error")])
    const last = await startNode([success()])
    const directory = await startDirectory({
      nodes: [
        { node_id: "via-relay", endpoint: `${relay.url}/v1/relay-for/worker-1` },
        { node_id: "turn", endpoint: turn.url, transport_method: "turn_relay" },
        { node_id: "direct", endpoint: last.url }
      ]
    })
    servers.push(relay, turn, last, directory)
    const res = await clientFor(directory).submit({ intent: "urn:iicp:intent:llm:chat:v1", payload: {} })
    expect(res.node_id).toBe("direct")
    expect(relay.requests[0]?.path).toBe("/v1/relay-for/worker-1/v1/task")
  })

  it.each<[string, Behaviour]>([
    ["unknown_intent", nestedError(404, "unknown_intent")],
    ["not_found", nestedError(404, "not_found")],
    ["IICP-E030", nestedError(404, "IICP-E030", "worker not bound")],
    ["a bare 404 (read as not_found)", { kind: "text", status: 404, text: "<html>Not Found</html>" }]
  ])("a wrong node (404 %s) is followed by the next at once", async (_code, answer) => {
    const { directory, nodes } = await mesh([[answer], [success()]])
    const res = await clientFor(directory).submit({ intent: "urn:iicp:intent:llm:chat:v1", payload: {} })
    expect(res.node_id).toBe("node-1")
    expect(res.attempts).toBe(2)
    expect(nodes.map((n) => n.requests.length)).toEqual([1, 1])
  })

  it.each(["validation_error", "IICP-E035", "model_not_loaded"])("a 404 with any other code (%s) is terminal: one attempt, code kept", async (code) => {
    const { directory, nodes } = await mesh([[nestedError(404, code)], [success()]])
    const error = await failure(clientFor(directory).submit({ intent: "urn:iicp:intent:llm:chat:v1", payload: {} }))
    expect(error.code).toBe(code)
    expect(error.httpStatus).toBe(404)
    expect(error.retryable).toBe(false)
    expect(nodes[1]!.requests).toHaveLength(0)
  })

  it("maxRetries: 1 makes a single attempt, then no_available_node with the attempts list", async () => {
    const { directory, nodes } = await mesh([[{ kind: "reset" }], [success()]])
    const error = await failure(clientFor(directory, { maxRetries: 1 }).submit({ intent: "urn:iicp:intent:llm:chat:v1", payload: {} }))
    expect(error.code).toBe("no_available_node")
    expect(error.attempts).toEqual([{ node_id: "node-0", code: "IICP-E004" }])
    expect(nodes[1]!.requests).toHaveLength(0)
  })
})

describe("cancellation", () => {
  it("aborting the signal mid-request aborts the HTTP request and ends the task in `cancelled`", async () => {
    const { directory, nodes } = await mesh([[{ kind: "hang" }], [success()]])
    const states: Array<unknown> = []
    const client = clientFor(directory, {
      inspect: (event) => {
        if (event.type === "@xstate.snapshot" && event.rootId === event.actorRef.sessionId) states.push((event.snapshot as { value?: unknown }).value)
      }
    })
    const controller = new AbortController()
    const pending = client.submit({ intent: "urn:iicp:intent:llm:chat:v1", payload: {} }, { signal: controller.signal })
    await nodes[0]!.waitForRequests(1)
    controller.abort()
    const error = await failure(pending)
    expect(error.code).toBe("cancelled")
    await nodes[0]!.waitForAborts(1)
    expect(states.at(-1)).toBe("cancelled")
    expect(nodes[1]!.requests).toHaveLength(0)
  })

  it("closing the client while a shared discover hangs aborts it and fails every waiting task, promptly", async () => {
    const directory = await startDirectory({ nodes: [], hangDiscover: true })
    servers.push(directory)
    const client = new IicpClient({ directoryUrl: directory.url })
    const waiting = [client.chat([{ role: "user", content: "hi" }]), client.chat([{ role: "user", content: "hi" }])].map(failure)
    await directory.waitForRequests(1)
    const closing = Date.now()
    await client.close()
    const errors = await Promise.all(waiting)
    expect(errors.map((e) => e.code)).toEqual(["IICP-E004", "IICP-E004"])
    expect(directory.requests).toHaveLength(1)
    // Not after the directory call's own timeout: the close aborted the request.
    expect(Date.now() - closing).toBeLessThan(DIRECTORY_CALL_TIMEOUT_MS)
  })

  it("an already aborted signal fails before any I/O", async () => {
    const { directory } = await mesh([[success()]])
    const controller = new AbortController()
    controller.abort()
    const error = await failure(clientFor(directory).chat([{ role: "user", content: "hi" }], { signal: controller.signal }))
    expect(error.code).toBe("cancelled")
    expect(directory.requests).toHaveLength(0)
  })
})

describe("token redaction (SDK-06)", () => {
  const TOKEN = "tok-3f9a1c0d2b7e4f6a8c1d5e9f0a2b4c6d"
  const NODE_TOKEN = "node-tok-a1b2c3d4e5f60718293a4b5c6d7e8f90"
  const leakFree = (error: IicpError) => {
    for (const text of [error.message, String(error), JSON.stringify(error), inspect(error, { depth: 10 }), String(error.stack), inspect(error.cause, { depth: 10 })]) {
      expect(text).not.toContain(TOKEN)
      expect(text).not.toContain(NODE_TOKEN)
    }
  }

  it.each([
    ["nested", nestedError(401, "unauthorized", `token ${TOKEN} rejected; node token ${NODE_TOKEN}`)],
    ["flat", { kind: "json", status: 403, body: { code: "forbidden", message: `Bearer ${TOKEN} is not allowed` } } as Behaviour],
    ["string", { kind: "json", status: 422, body: { error: "validation_error", message: `auth.node_token=${TOKEN}` } } as Behaviour]
  ])("a node echoing the token in a %s error never leaks it", async (_shape, behaviour) => {
    const { directory } = await mesh([[behaviour]])
    const client = clientFor(directory, { operatorToken: TOKEN, nodeToken: NODE_TOKEN })
    const error = await failure(client.submit({ intent: "urn:iicp:intent:llm:chat:v1", payload: {} }))
    expect(error.message).toContain("[redacted]")
    leakFree(error)
  })

  it("nor in the cause of no_available_node", async () => {
    const { directory } = await mesh([[nestedError(503, "unavailable", `busy, try ${TOKEN}`, { retry_after_ms: 0 })]])
    const client = clientFor(directory, { operatorToken: TOKEN, nodeToken: NODE_TOKEN, maxRetries: 1 })
    const error = await failure(client.submit({ intent: "urn:iicp:intent:llm:chat:v1", payload: {} }))
    expect(error.code).toBe("no_available_node")
    expect((error.cause as IicpError).code).toBe("unavailable")
    leakFree(error)
  })
})
