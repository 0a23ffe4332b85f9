// Node benchmark: an IicpNode serving the echo backend under keep-alive load, as a ratio to a raw
// node:http server that parses the same request and answers the same JSON, measured in the same run.
// The load generator is undici: N keep-alive connections, each sending back-to-back for a fixed
// duration (3 s each, in alternating rounds). Needs `npm run build` first. Run alone with `node bench/node.mjs`, or via bench/run.mjs.
import { createServer } from "node:http"
import { randomUUID } from "node:crypto"
import { performance } from "node:perf_hooks"
import { pathToFileURL } from "node:url"
import { Pool } from "undici"
import { echoBackend, IicpNode } from "../dist/src/index.js"
import { silentLogger } from "../dist/src/runtime/log.js"

const CONNECTIONS = 32
const DURATION_MS = 3_000
const WARMUP_MS = 300
const ROUNDS = 3
const OPERATOR_TOKEN = "bench-operator-token"
const CHAT_INTENT = "urn:iicp:intent:llm:chat:v1"

const taskBody = () =>
  JSON.stringify({
    task_id: randomUUID(),
    intent: CHAT_INTENT,
    payload: { messages: [{ role: "user", content: "hello from the benchmark" }] },
    constraints: { timeout_ms: 30_000 }
  })

/** The baseline: parse the task, answer the same shape the echo node answers. */
const startRawServer = () =>
  new Promise((resolve) => {
    const echo = echoBackend()
    const server = createServer({ keepAlive: true }, (req, res) => {
      const chunks = []
      req.on("data", (chunk) => chunks.push(chunk))
      req.on("end", () => {
        const task = JSON.parse(Buffer.concat(chunks).toString("utf8"))
        const result = echo(task, {})
        const body = Buffer.from(
          JSON.stringify({
            task_id: task.task_id,
            status: "success",
            result,
            metrics: { latency_ms: 0, tokens_used: result.usage.total_tokens },
            model_used: result.model,
            generated_by_ai: true
          })
        )
        res.writeHead(200, { "content-type": "application/json", "content-length": body.length })
        res.end(body)
      })
    })
    server.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        stop: () =>
          new Promise((done) => {
            server.close(() => done())
            server.closeAllConnections()
          })
      })
    )
  })

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0

/** Drives `url` with `connections` keep-alive connections for `durationMs`; latencies in ms are appended to `into`. */
const load = async (url, { connections, durationMs, warmupMs }, into) => {
  const pool = new Pool(url, { connections, pipelining: 1, keepAliveTimeout: 30_000 })
  const headers = { "content-type": "application/json", authorization: `Bearer ${OPERATOR_TOKEN}` }
  let failures = 0
  const measureFrom = performance.now() + warmupMs
  const until = measureFrom + durationMs
  const worker = async () => {
    while (performance.now() < until) {
      const t0 = performance.now()
      const res = await pool.request({ path: "/v1/task", method: "POST", headers, body: taskBody() })
      await res.body.text()
      const t1 = performance.now()
      if (res.statusCode !== 200) failures += 1
      else if (t0 >= measureFrom) into.push(t1 - t0)
    }
  }
  await Promise.all(Array.from({ length: connections }, worker))
  await pool.close()
  return failures
}

const summarise = (latencies, durationMs, failures) => {
  latencies.sort((a, b) => a - b)
  return {
    requests: latencies.length,
    failures,
    reqPerSec: Math.round(latencies.length / (durationMs / 1000)),
    p50Ms: Number(percentile(latencies, 50).toFixed(2)),
    p99Ms: Number(percentile(latencies, 99).toFixed(2))
  }
}

/**
 * Runs both measurements and returns the figures and the node/raw throughput ratio. The duration
 * of each is split into alternating rounds (raw, node, raw, node, …) so a drifting machine load
 * weighs on both alike.
 */
export const run = async ({ connections = CONNECTIONS, durationMs = DURATION_MS, warmupMs = WARMUP_MS, rounds = ROUNDS } = {}) => {
  const raw = await startRawServer()
  const node = new IicpNode({ intent: CHAT_INTENT, model: "echo", maxConcurrent: connections * 2, logger: silentLogger })
  const server = await node.serve(echoBackend(), { port: 0, host: "127.0.0.1", nodeToken: OPERATOR_TOKEN })
  const slice = { connections, durationMs: durationMs / rounds, warmupMs }
  const rawLatencies = []
  const nodeLatencies = []
  let rawFailures = 0
  let nodeFailures = 0
  for (let round = 0; round < rounds; round++) {
    rawFailures += await load(raw.url, slice, rawLatencies)
    nodeFailures += await load(server.url, slice, nodeLatencies)
  }
  await raw.stop()
  await server.stop()

  const rawFigures = summarise(rawLatencies, durationMs, rawFailures)
  const nodeFigures = summarise(nodeLatencies, durationMs, nodeFailures)
  const ratio = Number((nodeFigures.reqPerSec / Math.max(1, rawFigures.reqPerSec)).toFixed(3))
  const figures = { connections, durationMs, rounds, raw: rawFigures, node: nodeFigures, ratio, target: 0.5 }
  console.log(`raw node:http  ${rawFigures.reqPerSec} req/s  p50 ${rawFigures.p50Ms} ms  p99 ${rawFigures.p99Ms} ms`)
  console.log(`IicpNode echo  ${nodeFigures.reqPerSec} req/s  p50 ${nodeFigures.p50Ms} ms  p99 ${nodeFigures.p99Ms} ms  (failures ${nodeFigures.failures})`)
  console.log(`ratio ${ratio} (target >= 0.5)`)
  return figures
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await run()
