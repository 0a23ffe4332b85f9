/** POST /v1/task, health, metrics and routing over a real socket (WIRE.md §5.4, §5.5, §5.10–§5.12). */
import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { echoBackend, TaskFailure } from "../../src/node/index.js"
import type { NodeTask } from "../../src/node/index.js"
import { call, CHAT, chatTask, eventually, startTestNode } from "./helpers.js"

const seen: Array<NodeTask> = []
const abortedAtDeadline: Array<string> = []
let url: string
let stop: () => Promise<void>

beforeAll(async () => {
  const echo = echoBackend()
  const node = await startTestNode(
    async (task, context) => {
      seen.push(task)
      const mode = (task.payload as { mode?: string }).mode
      if (mode === "throw") throw new Error("boom at /home/alice/secret.ts:12")
      if (mode === "reject-429") throw new TaskFailure(429, "busy")
      if (mode === "reject-400") throw { status: 400, message: "bad" }
      if (mode === "in-band") return { error_code: 500, error_message: "upstream exploded" }
      if (mode === "hang") {
        await new Promise((resolve) => context.signal.addEventListener("abort", resolve))
        abortedAtDeadline.push(task.task_id)
      }
      return echo(task, context)
    },
    { maxConcurrent: 8, intent: [CHAT, "urn:iicp:intent:translate:v1"] }
  )
  url = node.url
  stop = node.server.stop
})
afterAll(() => stop())

describe("NODE-TASK: a valid task", () => {
  it("NODE-TASK-01/02/03, PROTO-MSG-04: 200, same task_id, status success, numeric latency, JSON", async () => {
    const body = chatTask({ task_id: randomUUID().toUpperCase() })
    const res = await call(`${url}/v1/task`, { body })
    expect(res.status).toBe(200)
    expect(res.headers["content-type"]).toBe("application/json")
    expect(res.json.task_id).toBe(body["task_id"])
    expect(res.json.status).toBe("success")
    expect(res.json.metrics.latency_ms).toBeGreaterThanOrEqual(0)
    expect(res.json.metrics.tokens_used).toBe(4)
    expect(res.json.model_used).toBe("echo")
    expect(res.json.result.choices[0].message.content).toBe("hello node")
  })

  it("TRACE-02: X-IICP-Trace-Id comes back on refusals too (400, 422)", async () => {
    const malformed = await call(`${url}/v1/task`, { raw: "{not json", headers: { "content-type": "application/json", "x-iicp-trace-id": "trace-400" } })
    expect(malformed.status).toBe(400)
    expect(malformed.headers["x-iicp-trace-id"]).toBe("trace-400")
    const invalid = await call(`${url}/v1/task`, { body: chatTask({ task_id: "nope" }), headers: { "x-iicp-trace-id": "trace-422" } })
    expect(invalid.status).toBe(422)
    expect(invalid.headers["x-iicp-trace-id"]).toBe("trace-422")
  })

  it("§5.9: the handler sees constraints filled in, no auth or nonce, and the header traceparent", async () => {
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    const body = chatTask({ constraints: undefined, auth: { token: "x" }, nonce: randomUUID(), _trace: { traceparent: "bogus" } })
    const res = await call(`${url}/v1/task`, { body, headers: { traceparent, "x-iicp-trace-id": "trace-42" } })
    expect(res.status).toBe(200)
    expect(res.headers["x-iicp-trace-id"]).toBe("trace-42")
    const task = seen.find((t) => t.task_id === body["task_id"])!
    expect(task.constraints).toEqual({ timeout_ms: 60_000, qos: "interactive" })
    expect(task).not.toHaveProperty("auth")
    expect(task).not.toHaveProperty("nonce")
    expect(task._trace?.traceparent).toBe(traceparent)
  })

  it("qos_class is read when qos is absent, best_effort is normalised", async () => {
    const body = chatTask({ constraints: { qos_class: "best_effort" } })
    expect((await call(`${url}/v1/task`, { body })).status).toBe(200)
    expect(seen.find((t) => t.task_id === body["task_id"])!.constraints.qos).toBe("best-effort")
  })
})

describe("NODE-TASK-04/07/08: failures", () => {
  it("a thrown error → 502 backend_error, status error, generic message", async () => {
    const body = chatTask({ payload: { mode: "throw", messages: [] } })
    const res = await call(`${url}/v1/task`, { body })
    expect(res.status).toBe(502)
    expect(res.json).toMatchObject({ task_id: body["task_id"], status: "error", result: null, error: { code: "backend_error" } })
    expect(res.text).not.toContain("/home/")
    expect(res.text).not.toContain("boom")
  })

  it("an in-band {error_code} answer is a failure, never 200", async () => {
    const res = await call(`${url}/v1/task`, { body: chatTask({ payload: { mode: "in-band" } }) })
    expect(res.status).toBe(502)
    expect(res.text).not.toContain("exploded")
  })

  it("TASK-4: timeout_ms bounds the handler → 504 task_timeout, and the handler's signal fired", async () => {
    const body = chatTask({ payload: { mode: "hang" }, constraints: { timeout_ms: 150 } })
    const res = await call(`${url}/v1/task`, { body })
    expect(res.status).toBe(504)
    expect(res.json).toMatchObject({ task_id: body["task_id"], status: "timeout", error: { code: "task_timeout" } })
    await eventually(() => abortedAtDeadline.includes(body["task_id"] as string))
  })

  it("§5.9 mapping: thrown 429 → 429 capacity_exceeded, thrown 400 → 422", async () => {
    const busy = await call(`${url}/v1/task`, { body: chatTask({ payload: { mode: "reject-429" } }) })
    expect(busy.status).toBe(429)
    expect(busy.json.error.code).toBe("capacity_exceeded")
    expect(busy.headers["retry-after"]).toBe("2")
    const bad = await call(`${url}/v1/task`, { body: chatTask({ payload: { mode: "reject-400" } }) })
    expect(bad.status).toBe(422)
    expect(bad.json.error.code).toBe("validation_error")
  })
})

describe("§5.5 steps 1, 4–6: refusals", () => {
  it("malformed JSON and non-objects → 400 validation_error", async () => {
    for (const raw of ["{not json", "[1,2]", "42", ""]) {
      const res = await call(`${url}/v1/task`, { raw, method: "POST" })
      expect(res.status).toBe(400)
      expect(res.json.error.code).toBe("validation_error")
    }
  })

  it("a body over 1 MiB → 413 payload_too_large", async () => {
    const res = await call(`${url}/v1/task`, { body: chatTask({ payload: { blob: "x".repeat(1_100_000) } }) })
    expect(res.status).toBe(413)
    expect(res.json.error.code).toBe("payload_too_large")
  })

  it.each([
    ["task_id not a UUID (PROTO-MSG-01)", { task_id: "nope" }],
    ["intent without version (PROTO-URN-01)", { intent: "urn:iicp:intent:llm:chat" }],
    ["intent with +modifier (PROTO-URN-02)", { intent: "urn:iicp:intent:llm:chat:v1+attested" }],
    ["payload missing, iicp_conf present", { payload: undefined, iicp_conf: {} }],
    ["payload an array", { payload: [] }],
    ["timeout_ms not an integer (PROTO-MSG-03)", { constraints: { timeout_ms: 1.5 } }],
    ["timeout_ms 0", { constraints: { timeout_ms: 0 } }],
    ["timeout_ms over 300000", { constraints: { timeout_ms: 300_001 } }],
    ["unknown qos", { constraints: { qos: "urgent" } }]
  ])("%s → 422 validation_error", async (_name, overrides) => {
    const res = await call(`${url}/v1/task`, { body: chatTask(overrides) })
    expect(res.status).toBe(422)
    expect(res.json.error.code).toBe("validation_error")
  })

  it("policy intents → 422 IICP-POLICY-001", async () => {
    const res = await call(`${url}/v1/task`, { body: chatTask({ intent: "urn:iicp:intent:social-scoring:score:v1" }) })
    expect(res.status).toBe(422)
    expect(res.json.error.code).toBe("IICP-POLICY-001")
  })

  it("PROTO-URN-03: an intent the node does not serve → 404 unknown_intent", async () => {
    const res = await call(`${url}/v1/task`, { body: chatTask({ intent: "urn:iicp:intent:llm:embedding:v1" }) })
    expect(res.status).toBe(404)
    expect(res.json.error.code).toBe("unknown_intent")
  })

  it("a second served intent is dispatched too", async () => {
    const res = await call(`${url}/v1/task`, { body: chatTask({ intent: "urn:iicp:intent:translate:v1" }) })
    expect(res.status).toBe(200)
  })
})

describe("§5.4 routes, NODE-HEALTH-01..03, METRICS", () => {
  it("NODE-HEALTH-01/02: health is 200 with status, numeric load and active_jobs, model and models", async () => {
    const res = await call(`${url}/iicp/health?probe=1`)
    expect(res.status).toBe(200)
    expect(res.headers["content-type"]).toBe("application/json")
    expect(["ok", "degraded"]).toContain(res.json.status)
    expect(typeof res.json.load).toBe("number")
    expect(typeof res.json.active_jobs).toBe("number")
    expect(res.json).toMatchObject({ model: "echo", models: ["echo"], max_concurrent: 8, effective_max_concurrent: 8, auth_mode: "open" })
    expect(res.json.intents).toContain("urn:iicp:intent:translate:v1")
  })

  it("NODE-HEALTH-03: unknown path → 404 JSON, wrong method → 405 with Allow, both JSON", async () => {
    const missing = await call(`${url}/v2/nothing`)
    expect(missing.status).toBe(404)
    expect(missing.headers["content-type"]).toBe("application/json")
    expect(missing.json.error.code).toBe("not_found")
    const wrong = await call(`${url}/v1/task`)
    expect(wrong.status).toBe(405)
    expect(wrong.headers["allow"]).toContain("POST")
    expect(wrong.json.error.code).toBe("method_not_allowed")
  })

  it("routing ignores query strings, repeated and trailing slashes (§1.2)", async () => {
    expect((await call(`${url}//v1/task/?x=1`, { body: chatTask() })).status).toBe(200)
  })

  it("CORS preflight → 204 with Access-Control-Allow-*", async () => {
    const res = await call(`${url}/v1/task`, { method: "OPTIONS" })
    expect(res.status).toBe(204)
    expect(res.headers["access-control-allow-origin"]).toBe("*")
    expect(res.headers["access-control-allow-methods"]).toContain("POST")
    expect(res.headers["access-control-allow-headers"]).toContain("authorization")
  })

  it("METRICS-01/03/04/06/08: text/plain 0.0.4 with the three metrics, counting, a 5000 ms bucket", async () => {
    const before = await call(`${url}/metrics`)
    expect(before.status).toBe(200)
    expect(before.headers["content-type"]).toBe("text/plain; version=0.0.4")
    const successes = (text: string) =>
      Number(/iicp_tasks_total\{status="success",intent="urn:iicp:intent:llm:chat:v1",qos="interactive"\} (\d+)/.exec(text)?.[1] ?? 0)
    await call(`${url}/v1/task`, { body: chatTask() })
    const after = await call(`${url}/metrics`)
    expect(successes(after.text)).toBe(successes(before.text) + 1)
    expect(after.text).toMatch(/iicp_task_latency_ms_bucket\{[^}]*le="5000"\} \d+/)
    expect(after.text).toMatch(/iicp_tokens_used_total\{intent="urn:iicp:intent:llm:chat:v1"\} \d+/)
    expect(after.text).toMatch(/iicp_tasks_total\{status="timeout"/)
    expect(after.text).toMatch(/iicp_tasks_total\{status="error"/)
  })
})
