// Client benchmark: `client.chat` (discovery cached) against two baselines measured in the same run,
// each POSTing the same body to the same local node over keep-alive: Node's global `fetch` (the
// issue's baseline) and `undici.request` (a stricter one: the client's own transport, without
// fetch's WHATWG layers). Also the cost of one task-lifecycle actor run to completion with instant
// fake actors, and heap per in-flight task. Needs `npm run build` first.
// Run alone with `node bench/client.mjs`, or through bench/run.mjs, which imports `run()`.
/* global fetch */
import { createServer } from "node:http"
import { randomUUID } from "node:crypto"
import { performance } from "node:perf_hooks"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { pathToFileURL } from "node:url"
import { Agent, request } from "undici"
import { createActor, fromCallback } from "xstate"
import { IicpClient } from "../dist/src/index.js"
import { taskLifecycleMachine } from "../dist/machines/index.js"

const WARMUP = 300
const SAMPLES = 3_000
const BLOCK = 250
const ACTOR_RUNS = 20_000
const IN_FLIGHT = 400

const CHAT_INTENT = "urn:iicp:intent:llm:chat:v1"
const MESSAGES = [{ role: "user", content: "hi" }]
const ANSWER = Buffer.from(
  JSON.stringify({
    task_id: "00000000-0000-4000-8000-000000000000",
    status: "success",
    result: {
      id: "chatcmpl-1",
      object: "chat.completion",
      created: 1760000000,
      model: "bench",
      choices: [{ index: 0, message: { role: "assistant", content: "Hi!" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 }
    },
    metrics: { latency_ms: 0, tokens_used: 15 }
  })
)

const listen = (handler) =>
  new Promise((resolve) => {
    const server = createServer(handler)
    server.listen(0, "127.0.0.1", () => resolve({ server, url: `http://127.0.0.1:${server.address().port}` }))
  })

const stop = (server) =>
  new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })

/** A node answering every task with the same chat completion; `hold` parks answers until released. */
const startNode = async () => {
  const held = []
  let holding = false
  const node = await listen((req, res) => {
    req.resume()
    req.on("end", () => {
      const answer = () => {
        res.writeHead(200, { "content-type": "application/json", "content-length": ANSWER.length })
        res.end(ANSWER)
      }
      if (holding) held.push(answer)
      else answer()
    })
  })
  return {
    ...node,
    held,
    hold: () => (holding = true),
    release: () => {
      holding = false
      for (const answer of held.splice(0)) answer()
    }
  }
}

const startDirectory = (nodeUrl) => {
  const body = Buffer.from(JSON.stringify({ nodes: [{ node_id: "bench-node", endpoint: nodeUrl, score: 1, available: true }], count: 1 }))
  return listen((req, res) => {
    req.resume()
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length, "cache-control": "public, max-age=5" })
    res.end(body)
  })
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
const summary = (samples) => {
  const sorted = [...samples].sort((a, b) => a - b)
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) }
}

const time = async (fn) => {
  const start = performance.now()
  await fn()
  return performance.now() - start
}

const gc = (() => {
  setFlagsFromString("--expose-gc")
  return runInNewContext("gc")
})()

const settledHeap = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

/** One actor run with instant fake actors: given candidate, first attempt succeeds. */
const actorRunMicros = () => {
  const machine = taskLifecycleMachine.provide({
    actors: {
      discover: fromCallback(() => undefined),
      submitAttempt: fromCallback(({ sendBack }) => sendBack({ type: "ATTEMPT.SUCCEEDED", result: "ok" }))
    }
  })
  const input = { taskId: "bench", deadlineMs: 30_000, candidates: [{ nodeId: "n", endpoint: "http://n" }], jitterSamples: [0.5, 0.5] }
  const once = () => {
    const actor = createActor(machine, { input })
    actor.start()
    if (actor.getSnapshot().status !== "done") throw new Error("actor did not complete")
  }
  for (let i = 0; i < 2_000; i++) once()
  const start = performance.now()
  for (let i = 0; i < ACTOR_RUNS; i++) once()
  return ((performance.now() - start) * 1000) / ACTOR_RUNS
}

/** Runs the benchmark and returns its figures. */
export const run = async () => {
  const node = await startNode()
  const directory = await startDirectory(node.url)
  const client = new IicpClient({ directoryUrl: directory.url })
  const agent = new Agent({ keepAliveTimeout: 4_000, connections: 128 })
  const taskUrl = `${node.url}/v1/task`
  const taskBody = () =>
    Buffer.from(
      JSON.stringify({ task_id: randomUUID(), intent: CHAT_INTENT, payload: { messages: MESSAGES }, constraints: { timeout_ms: 30_000, qos: "interactive" } })
    )
  const undiciPost = async () => {
    const payload = taskBody()
    const res = await request(taskUrl, {
      method: "POST",
      dispatcher: agent,
      headers: { "content-type": "application/json", "content-length": String(payload.length) },
      body: payload
    })
    const body = await res.body.json()
    if (body.status !== "success") throw new Error("undici baseline failed")
  }
  // Node's global fetch keeps connections alive through its global dispatcher.
  const fetchPost = async () => {
    const res = await fetch(taskUrl, { method: "POST", headers: { "content-type": "application/json" }, body: taskBody() })
    const body = await res.json()
    if (body.status !== "success") throw new Error("fetch baseline failed")
  }
  const chat = async () => {
    const res = await client.chat(MESSAGES)
    if (res.choices[0]?.message.content !== "Hi!") throw new Error("chat failed")
  }
  try {
    for (let i = 0; i < WARMUP; i++) {
      await chat()
      await fetchPost()
      await undiciPost()
    }
    // Alternating blocks so drift (JIT, GC, a busy box) hits every side alike.
    const chatSamples = []
    const fetchSamples = []
    const undiciSamples = []
    for (let done = 0; done < SAMPLES; done += BLOCK) {
      for (let i = 0; i < BLOCK; i++) fetchSamples.push(await time(fetchPost))
      for (let i = 0; i < BLOCK; i++) undiciSamples.push(await time(undiciPost))
      for (let i = 0; i < BLOCK; i++) chatSamples.push(await time(chat))
    }
    const chatStats = summary(chatSamples)
    const fetchStats = summary(fetchSamples)
    const undiciStats = summary(undiciSamples)

    const actorMicros = actorRunMicros()

    // Heap per in-flight task: the node parks every answer until all `send` calls are in flight.
    const heapPerInFlight = async (send) => {
      const before = settledHeap()
      node.hold()
      const pending = Array.from({ length: IN_FLIGHT }, send)
      while (node.held.length < Math.min(IN_FLIGHT, 128)) await new Promise((resolve) => setTimeout(resolve, 10))
      await new Promise((resolve) => setTimeout(resolve, 100))
      const during = settledHeap()
      // Releasing also stops holding, so requests still queued in the pool are answered at once.
      node.release()
      await Promise.all(pending)
      return (during - before) / IN_FLIGHT
    }
    const bytesPerTask = await heapPerInFlight(() => client.chat(MESSAGES))
    const bytesPerUndiciRequest = await heapPerInFlight(undiciPost)

    const figures = {
      chatP50Ms: chatStats.p50,
      chatP99Ms: chatStats.p99,
      fetchP50Ms: fetchStats.p50,
      fetchP99Ms: fetchStats.p99,
      undiciP50Ms: undiciStats.p50,
      undiciP99Ms: undiciStats.p99,
      p50RatioFetch: chatStats.p50 / fetchStats.p50,
      p99RatioFetch: chatStats.p99 / fetchStats.p99,
      p50RatioUndici: chatStats.p50 / undiciStats.p50,
      p99RatioUndici: chatStats.p99 / undiciStats.p99,
      actorRunMicros: actorMicros,
      heapBytesPerInFlightTask: bytesPerTask,
      heapBytesPerInFlightUndiciRequest: bytesPerUndiciRequest,
      samples: SAMPLES,
      inFlightTasks: IN_FLIGHT
    }
    const ms = ({ p50, p99 }) => `${p50.toFixed(3)} / ${p99.toFixed(3)}`
    const ratio = (a, b) => `${(a.p50 / b.p50).toFixed(2)}x / ${(a.p99 / b.p99).toFixed(2)}x`
    const row = (name, value, target) => console.log(`${name.padEnd(42)} ${value.padStart(16)}   ${target}`)
    console.log(`${"measure".padEnd(42)} ${"value".padStart(16)}   target`)
    row("client.chat p50 / p99 (ms)", ms(chatStats), "")
    row("fetch POST p50 / p99 (ms)", ms(fetchStats), "baseline (issue), same run")
    row("undici.request POST p50 / p99 (ms)", ms(undiciStats), "stricter baseline, same run")
    row("chat / fetch, p50 / p99", ratio(chatStats, fetchStats), "p50 <= 1.2x")
    row("chat / undici.request, p50 / p99", ratio(chatStats, undiciStats), "")
    row("task-lifecycle actor, create+run (µs)", actorMicros.toFixed(1), "< 50 µs")
    row(`heap per in-flight task (${IN_FLIGHT} tasks, bytes)`, bytesPerTask.toFixed(0), "< 5120 B")
    row("heap per in-flight undici.request (bytes)", bytesPerUndiciRequest.toFixed(0), "baseline, same run")
    return figures
  } finally {
    await client.close()
    await agent.close()
    await stop(node.server)
    await stop(directory.server)
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await run()
}
