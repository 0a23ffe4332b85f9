// Embedded directory throughput: discover with 10,000 registered nodes and register, each reported
// as req/s with p50/p99 latency, against a same-run baseline (GET /health: the HTTP stack's ceiling).
// Discover is measured three ways: with the directory's short answer cache (the four queries repeat, so
// most requests are cache hits) and without it (discoverCacheMs: 0: every request ranks 10,000 nodes),
// and cached again with one request in five a heartbeat of a node of that intent whose load stays put.
// The directory runs on the main thread; the undici keep-alive load generator runs in a worker
// thread so the two use both cores. Run `npm run build` first. ~30 s in total.
import { scrypt, randomBytes } from "node:crypto"
import { performance } from "node:perf_hooks"
import { pathToFileURL } from "node:url"
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads"

const SEEDED_NODES = 10_000
const TARGETS = { discover_rps: 5_000, register_rps: 500 }
const CHAT = "urn:iicp:intent:llm:chat:v1"
const PHASE_SECONDS = Number(process.env.BENCH_PHASE_SECONDS ?? 4)
const CONNECTIONS = 32

/** Worker side: drive `requests` (cycled) for `seconds` over a keep-alive pool; report latencies. */
const loadGenerator = async ({ origin, requests, seconds, connections }) => {
  const { Pool } = await import("undici")
  const pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 10_000 })
  const latencies = []
  const statuses = {}
  let next = 0
  const deadline = performance.now() + seconds * 1000
  const loop = async () => {
    while (performance.now() < deadline) {
      const spec = requests[next++ % requests.length]
      const started = performance.now()
      const res = await pool.request(spec)
      await res.body.dump()
      latencies.push(performance.now() - started)
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1
    }
  }
  const began = performance.now()
  await Promise.all(Array.from({ length: connections }, loop))
  const elapsed = (performance.now() - began) / 1000
  await pool.close()
  latencies.sort((a, b) => a - b)
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN
  return { requests: latencies.length, rps: Math.round(latencies.length / elapsed), p50_ms: +at(0.5).toFixed(2), p99_ms: +at(0.99).toFixed(2), statuses }
}

if (!isMainThread) {
  parentPort.postMessage(await loadGenerator(workerData))
}

const drive = (origin, requests, seconds = PHASE_SECONDS, connections = CONNECTIONS) =>
  new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { origin, requests, seconds, connections } })
    worker.once("message", resolve)
    worker.once("error", reject)
  })

/** Time for one scrypt token hash alone and with the libuv pool saturated (the register bound). */
const measureScrypt = async () => {
  const options = { N: 32_768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }
  const once = () => new Promise((resolve, reject) => scrypt("t".repeat(64), randomBytes(16), 32, options, (e) => (e ? reject(e) : resolve())))
  let started = performance.now()
  await once()
  const singleMs = performance.now() - started
  const batch = 16
  started = performance.now()
  await Promise.all(Array.from({ length: batch }, once))
  const perSecond = batch / ((performance.now() - started) / 1000)
  return { single_hash_ms: +singleMs.toFixed(1), hashes_per_s_saturated: +perSecond.toFixed(1) }
}

/** A stored node as the directory keeps it (seeding skips scrypt: the token hash is a placeholder). */
const seededNode = (i, nowMs) => ({
  node_id: `bench-${String(i).padStart(5, "0")}`,
  endpoint: `https://n${i}.example.net:8020`,
  region: ["eu-central", "us-east", "ap-south"][i % 3],
  capabilities: [{ intent: CHAT, models: [i % 2 ? "qwen2.5:0.5b" : "llama3.1:8b"] }],
  max_concurrent: 4,
  relay_capable: i % 10 === 0,
  ...(i % 10 === 0 ? { relay_accept_port: 9485 } : {}),
  node_hmac_key: "00".repeat(16),
  token_hash: "scrypt$00$00",
  registered_at_ms: nowMs,
  last_seen_ms: nowMs,
  available: true,
  load: (i % 100) / 100,
  active_jobs: i % 4,
  liveness: "verified",
  reputation: 0.3 + (i % 50) / 100,
  reputation_window_start_ms: nowMs,
  reputation_window_gain: 0,
  metrics_batches: [],
  observed_source_ip: "198.51.100.7",
  challenge_failures: 0
})

/** Runs every phase and returns the figures. */
export const run = async () => {
  const { Effect } = await import("effect")
  const { startDirectory, createMemoryStore } = await import("../dist/src/index.js")
  const { silentLogger: logger } = await import("../dist/src/runtime/log.js")
  const { fetch } = await import("undici")
  const results = {}

  const store = createMemoryStore()
  const now = Date.now()
  const seedStarted = performance.now()
  for (let i = 0; i < SEEDED_NODES; i++) Effect.runSync(store.putNode(seededNode(i, now)))
  results.seed = { nodes: SEEDED_NODES, method: "store.putNode (no scrypt)", ms: Math.round(performance.now() - seedStarted) }

  const discoverQueries = ["", "&region=eu-central", "&model=llama3.1:8b&limit=50", "&region=us-east&qos=interactive&limit=5"].map((q) => ({
    method: "GET",
    path: `/v1/discover?intent=${encodeURIComponent(CHAT)}${q}`
  }))

  const cached = await startDirectory({ store, liveness: "off", logger })
  results.baseline_health = await drive(cached.url, [{ method: "GET", path: "/health" }])
  console.log("baseline GET /health          ", results.baseline_health)
  results.discover_cached = await drive(cached.url, discoverQueries)
  console.log("discover, 10k nodes, cached   ", results.discover_cached)
  // One node of the intent beating as nodes do, load unchanged: its beats must leave the cached answers alone.
  const beater = await (
    await fetch(`${cached.url}/v1/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ node_id: "bench-beater", endpoint: "https://beater.example.net:8020", region: "eu-central", capabilities: [{ intent: CHAT, models: ["m"] }], limits: { max_concurrent: 4 } })
    })
  ).json()
  const auth = { "content-type": "application/json", authorization: `Bearer ${beater.node_token}` }
  const beat = { method: "POST", path: "/v1/heartbeat", headers: auth, body: JSON.stringify({ node_id: "bench-beater", load: 0.5, active_jobs: 2 }) }
  results.discover_cached_with_beats = await drive(cached.url, [...discoverQueries, beat])
  console.log("cached, 1 in 5 a heartbeat    ", results.discover_cached_with_beats)
  await fetch(`${cached.url}/v1/register`, { method: "DELETE", headers: auth, body: JSON.stringify({ node_id: "bench-beater" }) })
  await cached.stop()

  const uncached = await startDirectory({ store, liveness: "off", logger, discoverCacheMs: 0 })
  results.discover_uncached = await drive(uncached.url, discoverQueries)
  console.log("discover, 10k nodes, no cache ", results.discover_uncached)
  await uncached.stop()

  results.scrypt = { uv_threadpool_size: Number(process.env.UV_THREADPOOL_SIZE ?? 4), ...(await measureScrypt()) }
  console.log("scrypt N=2^15 r=8 p=1         ", results.scrypt)

  const registrar = await startDirectory({ liveness: "off", logger })
  // Distinct forwarded addresses (trusted from a loopback peer) keep the 60/min per-IP limit out of the way.
  const registers = Array.from({ length: 4_000 }, (_, i) => ({
    method: "POST",
    path: "/v1/register",
    headers: { "content-type": "application/json", "x-forwarded-for": `203.0.${(i >> 8) & 255}.${i & 255}` },
    body: JSON.stringify({ node_id: `reg-${i}`, endpoint: `https://r${i}.example.net:8020`, region: "eu-central", capabilities: [{ intent: CHAT, models: ["m"] }], limits: { max_concurrent: 4 } })
  }))
  results.register = await drive(registrar.url, registers, PHASE_SECONDS, 8)
  console.log("register (scrypt per request) ", results.register)
  await registrar.stop()

  const line = (name, r, target) => `${name.padEnd(22)} ${String(r.rps).padStart(6)} req/s  p50 ${r.p50_ms} ms  p99 ${r.p99_ms} ms  (target >= ${target})`
  console.log(`\nsummary (2 cores shared with the load generator; health baseline ${results.baseline_health.rps} req/s)`)
  console.log(line("discover, no cache", results.discover_uncached, TARGETS.discover_rps))
  console.log(line("discover, cached", results.discover_cached, TARGETS.discover_rps))
  console.log(line("cached + heartbeats", results.discover_cached_with_beats, TARGETS.discover_rps))
  console.log(line("register", results.register, TARGETS.register_rps))
  console.log(
    `register is bound by scrypt (N=2^15, r=8, p=1, WIRE §6.3): ${results.scrypt.hashes_per_s_saturated} hashes/s with UV_THREADPOOL_SIZE=${results.scrypt.uv_threadpool_size}`
  )
  return results
}

if (isMainThread && import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await run()
}
