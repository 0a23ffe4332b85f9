/** The OpenAI-compatible backend (WIRE.md §5.9) against a small OpenAI-compatible server written here. */
import { createServer } from "node:http"
import type { IncomingHttpHeaders, Server } from "node:http"
import { it as effectIt } from "@effect/vitest"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { OPENAI_BACKEND_BASE_URLS, openAiBackend, startNode } from "../../src/node/index.js"
import { baseUrl, closeServer, listen, readJsonBody, sendJson } from "../../src/runtime/http-server.js"
import { silentLogger } from "../../src/runtime/log.js"
import { call, CHAT, chatTask, startTestNode } from "./helpers.js"
import { replyJson, run, runnerFor, submission } from "./runner-helpers.js"

interface Seen {
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly body: Record<string, unknown>
}

const seen: Array<Seen> = []
let upstream: Server
let upstreamUrl: string

const completion = (model: string) => ({
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1,
  model,
  choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }
})

beforeAll(async () => {
  upstream = createServer(async (req, res) => {
    // The node's backend health check (GET /models) is answered apart from the task calls under test.
    if (req.method === "GET" && req.url === "/v1/models") return sendJson(res, 200, { object: "list", data: [{ id: "m" }] })
    const read = await readJsonBody(req, 1 << 20)
    const body = (read._tag === "Ok" ? read.value : {}) as Record<string, unknown>
    seen.push({ path: req.url ?? "", headers: req.headers, body })
    const model = String(body["model"])
    if (model === "fail-500") return sendJson(res, 500, { error: { message: "model crashed at /srv/models/x.gguf" } })
    if (model === "fail-429") return sendJson(res, 429, { error: { message: "busy" } })
    if (model === "fail-400") return sendJson(res, 400, { error: { message: "bad" } })
    if (model === "html") {
      res.writeHead(200, { "content-type": "text/html" })
      return res.end("<html>oops</html>")
    }
    if (model === "slow") return // never answers
    // Answers after 100 ms of real time: long enough that a collapsed (1 ms) timeout fails the call.
    if (model === "delayed") return void setTimeout(() => sendJson(res, 200, completion(model)), 100)
    if (req.url === "/v1/embeddings") return sendJson(res, 200, { object: "list", data: [{ embedding: [0.1, 0.2] }], model, usage: { total_tokens: 2 } })
    sendJson(res, 200, completion(model))
  })
  const port = await listen(upstream, 0, "127.0.0.1")
  upstreamUrl = `${baseUrl("127.0.0.1", port)}/v1`
})
afterAll(async () => {
  upstream.closeAllConnections()
  await closeServer(upstream)
})

describe("openAiBackend", () => {
  let url: string
  let stop: () => Promise<void>
  beforeAll(async () => {
    const node = await startTestNode(openAiBackend({ baseUrl: upstreamUrl, apiKey: "sk-upstream", model: "qwen2.5:0.5b" }), {
      intent: [CHAT, "urn:iicp:intent:llm:completion:v1", "urn:iicp:intent:llm:embedding:v1"],
      model: "qwen2.5:0.5b"
    })
    url = node.url
    stop = node.server.stop
  })
  afterAll(() => stop())

  const last = () => seen[seen.length - 1]!

  it("chat → /chat/completions with the default model, max_tokens from constraints, stream false, the API key", async () => {
    const res = await call(`${url}/v1/task`, { body: chatTask({ constraints: { timeout_ms: 5_000, max_tokens: 64 } }) })
    expect(res.status).toBe(200)
    expect(last().path).toBe("/v1/chat/completions")
    expect(last().body).toMatchObject({ model: "qwen2.5:0.5b", max_tokens: 64, stream: false, messages: [{ role: "user", content: "hello node" }] })
    expect(last().headers.authorization).toBe("Bearer sk-upstream")
    expect(res.json.result).toEqual(completion("qwen2.5:0.5b"))
    expect(res.json.metrics.tokens_used).toBe(5)
    expect(res.json.model_used).toBe("qwen2.5:0.5b")
  })

  it("the payload's model and max_tokens win over constraints and configuration", async () => {
    await call(`${url}/v1/task`, {
      body: chatTask({ payload: { model: "llama3", max_tokens: 7, messages: [] }, constraints: { model: "other", max_tokens: 64 } })
    })
    expect(last().body).toMatchObject({ model: "llama3", max_tokens: 7 })
    await call(`${url}/v1/task`, { body: chatTask({ constraints: { model: "from-constraints" } }) })
    expect(last().body["model"]).toBe("from-constraints")
  })

  it("completion → /completions, embedding → /embeddings (without stream)", async () => {
    const completionRes = await call(`${url}/v1/task`, { body: chatTask({ intent: "urn:iicp:intent:llm:completion:v1", payload: { prompt: "x" } }) })
    expect(completionRes.status).toBe(200)
    expect(last().path).toBe("/v1/completions")
    const embedding = await call(`${url}/v1/task`, { body: chatTask({ intent: "urn:iicp:intent:llm:embedding:v1", payload: { input: "x" } }) })
    expect(embedding.status).toBe(200)
    expect(last().path).toBe("/v1/embeddings")
    expect(last().body).not.toHaveProperty("stream")
    expect(embedding.json.metrics.tokens_used).toBe(2)
  })

  it.each([
    ["fail-500", 502, "backend_error"],
    ["fail-429", 429, "capacity_exceeded"],
    ["fail-400", 422, "validation_error"],
    ["html", 502, "backend_error"]
  ])("upstream %s → %i %s, nothing of the upstream message leaks", async (model, status, code) => {
    const res = await call(`${url}/v1/task`, { body: chatTask({ payload: { model, messages: [] } }) })
    expect(res.status).toBe(status)
    expect(res.json.error.code).toBe(code)
    expect(res.text).not.toContain("/srv/")
  })

  it("an upstream that never answers → 504 within the task budget", async () => {
    const res = await call(`${url}/v1/task`, { body: chatTask({ payload: { model: "slow", messages: [] }, constraints: { timeout_ms: 300 } }) })
    expect(res.status).toBe(504)
    expect(res.json.error.code).toBe("task_timeout")
  })
})

describe("backend configuration", () => {
  it("default base URLs per backend type", () => {
    expect(OPENAI_BACKEND_BASE_URLS).toEqual({
      openai_compat: "http://localhost:11434/v1",
      vllm: "http://localhost:8000/v1",
      llamacpp: "http://localhost:8080/v1"
    })
  })

  it("no model anywhere → 422; an unreachable backend → 502", async () => {
    const noModel = await startTestNode(openAiBackend({ baseUrl: upstreamUrl }), { model: [] })
    const unreachable = await startTestNode(openAiBackend({ baseUrl: "http://127.0.0.1:1/v1", model: "m" }))
    try {
      expect((await call(`${noModel.url}/v1/task`, { body: chatTask() })).status).toBe(422)
      expect((await call(`${unreachable.url}/v1/task`, { body: chatTask() })).status).toBe(502)
    } finally {
      await noModel.server.stop()
      await unreachable.server.stop()
    }
  })

  it("startNode builds a node around a stock backend, and refuses intents the backend cannot serve", async () => {
    const { server } = await startNode({ backend: { type: "vllm", baseUrl: upstreamUrl, model: "m1" }, port: 0, host: "127.0.0.1", logger: silentLogger })
    try {
      const res = await call(`${server.url}/v1/task`, { body: chatTask() })
      expect(res.status).toBe(200)
      expect(res.json.model_used).toBe("m1")
      expect((await call(`${server.url}/iicp/health`)).json.models).toEqual(["m1"])
    } finally {
      await server.stop()
    }
    await expect(
      startNode({ backend: { type: "openai_compat" }, intent: "urn:iicp:intent:translate:v1", port: 0, logger: silentLogger })
    ).rejects.toMatchObject({ code: "invalid_config" })
    const echo = await startNode({ backend: { type: "echo" }, port: 0, host: "127.0.0.1", logger: silentLogger })
    try {
      const res = await call(`${echo.server.url}/v1/task`, { body: chatTask() })
      expect(res.json.result.model).toBe("echo")
    } finally {
      await echo.server.stop()
    }
  })
})

describe("openAiBackend on a node under TestClock", () => {
  // The node's clock is a TestClock at 0 (1970): the backend's budget must come from that clock, not Date.now().
  effectIt.effect("the backend's request timeout is the task's remaining budget: a 100 ms upstream answers within 5 s", () =>
    Effect.gen(function* () {
      const { runner } = yield* runnerFor(openAiBackend({ baseUrl: upstreamUrl, model: "delayed" }))
      const reply = yield* run(runner, submission(chatTask({ constraints: { timeout_ms: 5_000 } })))
      expect(reply.status).toBe(200)
      expect(replyJson(reply).result.model).toBe("delayed")
    })
  )

  effectIt.effect("the budget still bounds the call: an upstream that never answers → 504 from the backend's own timeout", () =>
    Effect.gen(function* () {
      const { runner } = yield* runnerFor(openAiBackend({ baseUrl: upstreamUrl, model: "slow" }))
      // The runner's own deadline sleeps on the TestClock (never advanced here): the 504 comes from the backend's timeout.
      const reply = yield* run(runner, submission(chatTask({ constraints: { timeout_ms: 300 } })))
      expect(reply.status).toBe(504)
      expect(replyJson(reply).error.code).toBe("task_timeout")
    })
  )
})
