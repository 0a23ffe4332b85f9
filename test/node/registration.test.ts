/**
 * Registration against a real HTTP test directory (WIRE.md §5.1–§5.3): register body, heartbeats
 * on TestClock, re-registration after 401/404/410 and outages, back-off, hung calls, deregister.
 */
import { it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Random, TestClock, TestContext } from "effect"
import fc from "fast-check"
import { describe, expect, it as vitestIt } from "vitest"
import { NODE_SDK_VERSION } from "../../src/constants.js"
import { nodeLayer, Registration, serveNode } from "../../src/node/effect.js"
import type { NodeOptions, TaskHandler } from "../../src/node/effect.js"
import { echoBackend, IicpNode } from "../../src/node/index.js"
import { generateSigningKeyPair, signToken } from "../../src/protocol/consumer-token.js"
import { silentLogger } from "../../src/runtime/log.js"
import { call, CHAT, chatTask, eventually } from "./helpers.js"
import { startTestDirectory } from "./test-directory.js"
import type { TestDirectory, TestDirectoryOptions } from "./test-directory.js"

const until = (check: () => boolean) => Effect.promise(() => eventually(check))

interface WithNodeOptions {
  /** Values `Random.next` cycles through: 0.5 means no jitter, 0 the shortest and 1 the longest delays. */
  readonly random?: [number, ...Array<number>]
  readonly directory?: TestDirectoryOptions
  readonly node?: Partial<NodeOptions>
  readonly handler?: TaskHandler
}

/** Runs `body` with a serving node registered at a fresh test directory, on TestClock. */
const withNode = <A>(
  prepare: (dir: TestDirectory) => void,
  body: (dir: TestDirectory, stop: Effect.Effect<void>, url: string) => Effect.Effect<A, unknown, Registration>,
  { random = [0.5], directory = {}, node = {}, handler = echoBackend() }: WithNodeOptions = {}
) =>
  Effect.gen(function* () {
    const dir = yield* Effect.acquireRelease(Effect.promise(() => startTestDirectory(directory)), (d) => Effect.promise(d.close))
    prepare(dir)
    const layer = nodeLayer({
      nodeId: "node-reg-1",
      intent: CHAT,
      model: "echo",
      region: "eu-central",
      maxConcurrent: 3,
      maxTokens: 4096,
      tokensPerMin: 1000,
      directoryUrl: dir.url,
      logger: silentLogger,
      ...node
    })
    return yield* Effect.gen(function* () {
      const serving = yield* serveNode(handler, { port: 0, host: "127.0.0.1" })
      return yield* body(dir, serving.stop, serving.url)
    }).pipe(Effect.scoped, Effect.provide(layer))
  }).pipe(Effect.scoped, Effect.withRandom(Random.fixed(random)))

const phase = Effect.flatMap(Registration, (r) => Effect.map(r.state, (s) => s.phase))

/** Waits (real time, for socket I/O to land) until the machine rests in `expected`. */
const untilPhase = (expected: string) =>
  Effect.gen(function* () {
    const registration = yield* Registration
    const read = () => Effect.runSync(registration.state).phase
    yield* until(() => read() === expected)
  })

describe("registration with a test directory", () => {
  it.effect("listens, registers with the §5.2 body, beats at once and every 30 s (−10 % at least), deregisters on stop", () =>
    withNode(
      () => undefined,
      (dir, stop) =>
        Effect.gen(function* () {
          yield* until(() => dir.of("POST", "/v1/heartbeat").length === 1)
          const register = dir.of("POST", "/v1/register")[0]!
          expect(register.authorization).toBeUndefined()
          expect(register.body).toMatchObject({
            node_id: "node-reg-1",
            region: "eu-central",
            capabilities: [{ intent: CHAT, models: ["echo"], max_tokens: 4096, input_modalities: ["text"] }],
            limits: { max_concurrent: 3, tokens_per_min: 1000 },
            sdk_language: "typescript",
            sdk_version: NODE_SDK_VERSION
          })
          expect(register.body["endpoint"]).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
          expect(register.body).not.toHaveProperty("current_node_token")
          const beat = dir.of("POST", "/v1/heartbeat")[0]!
          expect(beat.authorization).toBe("Bearer dir-token-1")
          expect(beat.body).toEqual({ node_id: "node-reg-1", status: "available", available: true, load: 0, active_jobs: 0, max_concurrent: 3 })
          const registration = yield* Registration
          expect((yield* registration.state).observedSourceIp).toBe("127.0.0.1")
          yield* untilPhase("registered.idle")
          // Random 0 → the shortest jittered period, 30 s × 0.9.
          yield* TestClock.adjust("26999 millis")
          expect(yield* phase).toBe("registered.idle")
          yield* TestClock.adjust("1 millis")
          yield* until(() => dir.of("POST", "/v1/heartbeat").length === 2)
          yield* stop
          const deregister = dir.of("DELETE", "/v1/register")
          expect(deregister).toHaveLength(1)
          expect(deregister[0]!.authorization).toBe("Bearer dir-token-1")
          expect(deregister[0]!.body).toEqual({ node_id: "node-reg-1" })
          expect(yield* phase).toBe("stopped")
          expect(dir.state.maxOpenHeartbeats).toBe(1)
        }),
      { random: [0] }
    )
  )

  it.effect("401, 404 and 410 on a heartbeat re-register with current_node_token, then beat with the new token", () =>
    withNode(
      (dir) => dir.script.heartbeat.push("ok", 401, "ok", 404, "ok", 410, "ok"),
      (dir, stop) =>
        Effect.gen(function* () {
          for (const [round, status] of [401, 404, 410].entries()) {
            yield* untilPhase("registered.idle")
            yield* TestClock.adjust("30000 millis")
            yield* until(() => dir.of("POST", "/v1/register").length === round + 2)
            const reregister = dir.of("POST", "/v1/register")[round + 1]!
            expect(reregister.body["current_node_token"], `after ${status}`).toBe(`dir-token-${round + 1}`)
            yield* until(() => dir.of("POST", "/v1/heartbeat").length === 2 * round + 3)
            expect(dir.of("POST", "/v1/heartbeat")[2 * round + 2]!.authorization).toBe(`Bearer dir-token-${round + 2}`)
          }
          yield* untilPhase("registered.idle")
          yield* stop
          expect(dir.of("DELETE", "/v1/register")[0]!.authorization).toBe("Bearer dir-token-4")
        })
    )
  )

  it.effect("register failures back off 2 s then 4 s (+20 % at most) until the directory answers", () =>
    withNode(
      (dir) => dir.script.register.push(500, 503),
      (dir, stop) =>
        Effect.gen(function* () {
          // Random 1 → the longest jittered back-off, × 1.2: 2.4 s, then 4.8 s.
          yield* untilPhase("registering.backingOff")
          yield* TestClock.adjust("2399 millis")
          expect(yield* phase).toBe("registering.backingOff")
          yield* TestClock.adjust("1 millis")
          yield* until(() => dir.of("POST", "/v1/register").length === 2)
          yield* untilPhase("registering.backingOff")
          yield* TestClock.adjust("4799 millis")
          expect(yield* phase).toBe("registering.backingOff")
          yield* TestClock.adjust("1 millis")
          yield* until(() => dir.of("POST", "/v1/heartbeat").length === 1)
          expect(dir.of("POST", "/v1/register")).toHaveLength(3)
          yield* stop
        }),
      { random: [1] }
    )
  )

  it.effect("a hung heartbeat times out after 5 s, is retried once 100 ms later, never overlapping", () =>
    withNode(
      (dir) => dir.script.heartbeat.push("ok", "hang", "hang"),
      (dir, stop) =>
        Effect.gen(function* () {
          yield* untilPhase("registered.idle")
          yield* TestClock.adjust("30000 millis")
          yield* until(() => dir.state.openHeartbeats === 1)
          yield* TestClock.adjust("4999 millis")
          expect(yield* phase).toBe("registered.beating")
          yield* TestClock.adjust("1 millis")
          yield* untilPhase("registered.retrying")
          yield* until(() => dir.state.openHeartbeats === 0)
          yield* TestClock.adjust("100 millis")
          yield* until(() => dir.of("POST", "/v1/heartbeat").length === 3 && dir.state.openHeartbeats === 1)
          yield* TestClock.adjust("5000 millis")
          yield* untilPhase("registered.idle")
          yield* until(() => dir.state.openHeartbeats === 0)
          expect(dir.state.maxOpenHeartbeats).toBe(1)
          expect(dir.of("POST", "/v1/register")).toHaveLength(1)
          yield* stop
        })
    )
  )

  it.effect("§5.3: jitter never takes the PONG's period out of 5–60 s (60 s asked + longest jitter → 60 s, 5 s + shortest → 5 s)", () =>
    withNode(
      (dir) => (dir.script.nextHeartbeatMs = 60_000),
      (dir, stop) =>
        Effect.gen(function* () {
          // The first idle period draws 1 (the longest jitter, ×1.1), the second 0 (the shortest, ×0.9).
          yield* until(() => dir.of("POST", "/v1/heartbeat").length === 1)
          yield* untilPhase("registered.idle")
          dir.script.nextHeartbeatMs = 5_000
          yield* TestClock.adjust("59999 millis")
          expect(yield* phase).toBe("registered.idle")
          yield* TestClock.adjust("1 millis")
          yield* until(() => dir.of("POST", "/v1/heartbeat").length === 2)
          yield* untilPhase("registered.idle")
          yield* TestClock.adjust("4999 millis")
          expect(yield* phase).toBe("registered.idle")
          yield* TestClock.adjust("1 millis")
          yield* until(() => dir.of("POST", "/v1/heartbeat").length === 3)
          yield* stop
        }),
      { random: [1, 0] }
    )
  )

  it.effect("§4.1: a directory serving only /api/v1/*: the 404 register is repeated once at /api, which every later call keeps", () =>
    withNode(
      (dir) => dir.script.heartbeat.push("ok", 401),
      (dir, stop) =>
        Effect.gen(function* () {
          yield* until(() => dir.of("POST", "/api/v1/heartbeat").length === 1)
          expect(dir.calls.slice(0, 3).map((c) => `${c.method} ${c.path}`)).toEqual([
            "POST /v1/register",
            "POST /api/v1/register",
            "POST /api/v1/heartbeat"
          ])
          // A 401 beat re-registers: straight at /api, the base found.
          yield* untilPhase("registered.idle")
          yield* TestClock.adjust("30000 millis")
          yield* until(() => dir.of("POST", "/api/v1/heartbeat").length === 3)
          expect(dir.of("POST", "/api/v1/register")).toHaveLength(2)
          yield* untilPhase("registered.idle")
          yield* stop
          expect(dir.of("DELETE", "/api/v1/register").map((c) => c.authorization)).toEqual(["Bearer dir-token-2"])
          expect(dir.calls.filter((c) => !c.path.startsWith("/api/")).map((c) => `${c.method} ${c.path}`)).toEqual(["POST /v1/register"])
        }),
      { directory: { prefix: "/api" } }
    )
  )

  it.effect("heartbeat and /iicp/health report one load (§5.11: active ÷ max_concurrent); the beat's max_concurrent is the effective one", () => {
    let release: (() => void) | undefined
    const echo = echoBackend()
    return withNode(
      () => undefined,
      (dir, stop, url) =>
        Effect.gen(function* () {
          yield* untilPhase("registered.idle")
          // A budget past the beat below: the runner's deadline sleeps on the same TestClock.
          const task = Effect.promise(() => call(`${url}/v1/task`, { body: chatTask({ constraints: { timeout_ms: 300_000 } }) }))
          const running = yield* Effect.fork(task)
          yield* until(() => release !== undefined)
          const health = (yield* Effect.promise(() => call(`${url}/iicp/health`))).json
          expect(health).toMatchObject({ active_jobs: 1, max_concurrent: 4, effective_max_concurrent: 2, load: 0.25 })
          yield* TestClock.adjust("30000 millis")
          yield* until(() => dir.of("POST", "/v1/heartbeat").length === 2)
          expect(dir.of("POST", "/v1/heartbeat")[1]!.body).toMatchObject({ active_jobs: 1, max_concurrent: 2, available: true, load: health.load })
          release!()
          expect((yield* Fiber.join(running)).status).toBe(200)
          yield* stop
        }),
      {
        // One all-day window at half share: effective capacity 2 of 4, whatever the local time.
        node: { maxConcurrent: 4, availability: [{ start: "00:00", end: "23:59", share: 0.5 }] },
        handler: async (task, context) => {
          await new Promise<void>((resolve) => (release = resolve))
          return echo(task, context)
        }
      }
    )
  })

  it.effect("three failed beats in a row (directory outage) lead to re-registration", () =>
    withNode(
      (dir) => dir.script.heartbeat.push(500, 502, 503),
      (dir, stop) =>
        Effect.gen(function* () {
          for (let beat = 1; beat < 3; beat++) {
            yield* until(() => dir.of("POST", "/v1/heartbeat").length === beat)
            yield* untilPhase("registered.idle")
            yield* TestClock.adjust("30000 millis")
          }
          yield* until(() => dir.of("POST", "/v1/register").length === 2)
          expect(dir.of("POST", "/v1/register")[1]!.body["current_node_token"]).toBe("dir-token-1")
          yield* until(() => dir.of("POST", "/v1/heartbeat").length === 4)
          yield* stop
        })
    )
  )
})

describe("Promise API", () => {
  vitestIt("register() alone returns the token and exposes observedSourceIp; serve then beats with it", async () => {
    const dir = await startTestDirectory()
    try {
      const node = new IicpNode({ intent: CHAT, model: "echo", directoryUrl: dir.url, endpoint: "http://127.0.0.1:9", logger: silentLogger })
      expect(node.observedSourceIp).toBeUndefined()
      expect(await node.register()).toBe("dir-token-1")
      expect(node.observedSourceIp).toBe("127.0.0.1")
      expect(await node.register()).toBe("dir-token-2")
      expect(dir.of("POST", "/v1/register")[1]!.body["current_node_token"]).toBe("dir-token-1")
      const server = await node.serve(echoBackend(), { port: 0, host: "127.0.0.1" })
      await eventually(() => dir.of("POST", "/v1/heartbeat").length === 1)
      expect(dir.of("POST", "/v1/heartbeat")[0]!.authorization).toBe("Bearer dir-token-2")
      expect(dir.of("POST", "/v1/register")).toHaveLength(2)
      await eventually(() => node.registration().phase === "registered.idle")
      await server.stop()
      expect(dir.of("DELETE", "/v1/register")).toHaveLength(1)
      // Still readable once the node is released.
      expect(node.observedSourceIp).toBe("127.0.0.1")
      expect(node.registration().phase).toBe("stopped")
    } finally {
      await dir.close()
    }
  })

  vitestIt("close() after register() alone deregisters", async () => {
    const dir = await startTestDirectory()
    try {
      const node = new IicpNode({ intent: CHAT, directoryUrl: dir.url, endpoint: "http://127.0.0.1:9", logger: silentLogger })
      await node.register()
      await node.close()
      expect(dir.of("DELETE", "/v1/register").map((c) => c.authorization)).toEqual(["Bearer dir-token-1"])
    } finally {
      await dir.close()
    }
  })

  vitestIt("§4.1: the node's directory key comes from the /api base register found, and a base ending in /api is never extended", async () => {
    const keys = generateSigningKeyPair()
    const dir = await startTestDirectory({ prefix: "/api", publicKeyHex: keys.publicKeyHex })
    try {
      const nodeId = "node-api-fallback"
      // A trailing /v1/ is stripped from the configured URL (§4.1).
      const node = new IicpNode({ nodeId, intent: CHAT, directoryUrl: `${dir.url}/v1/`, access: "token+consumer", operatorToken: "op-secret", logger: silentLogger })
      const server = await node.serve(echoBackend(), { port: 0, host: "127.0.0.1" })
      await eventually(() => dir.of("POST", "/api/v1/heartbeat").length === 1)
      const now = Math.floor(Date.now() / 1000)
      const token = signToken({ v: 1, iss: "dir", sub: "client", aud: nodeId, intent: CHAT, iat: now, exp: now + 300 }, keys.privateKeyHex)
      const res = await call(`${server.url}/v1/task`, { body: chatTask(), headers: { "x-iicp-consumer-token": token } })
      expect(res.status).toBe(200)
      expect(dir.of("GET", "/api/v1/directory-key")).toHaveLength(1)
      await server.stop()
      expect(dir.of("DELETE", "/api/v1/register")).toHaveLength(1)
      expect(dir.calls.filter((c) => !c.path.startsWith("/api/")).map((c) => `${c.method} ${c.path}`)).toEqual(["POST /v1/register"])

      const atApi = new IicpNode({ intent: CHAT, directoryUrl: `${dir.url}/other/api`, endpoint: "http://127.0.0.1:9", logger: silentLogger })
      await expect(atApi.register()).rejects.toMatchObject({ name: "IicpError" })
      await atApi.close()
      expect(dir.calls.filter((c) => c.path.startsWith("/other/")).map((c) => c.path)).toEqual(["/other/api/v1/register"])
    } finally {
      await dir.close()
    }
  })

  vitestIt("register() against an unreachable directory rejects with an IicpError, never a raw transport error", async () => {
    const node = new IicpNode({ intent: CHAT, directoryUrl: "http://127.0.0.1:1", endpoint: "http://127.0.0.1:9", logger: silentLogger })
    await expect(node.register()).rejects.toMatchObject({ name: "IicpError", code: "IICP-E004" })
    await node.close()
  })
})

describe("model over directory behaviours, real HTTP (fast-check + TestClock)", () => {
  type Beat = "ok" | "hang" | 401 | 404 | 410 | 500
  const RESTING = new Set(["registered.idle", "registered.retrying", "registering.backingOff", "reregistering.backingOff"])

  /** Waits until the directory answered everything it will answer and the machine rests (or waits on a hung call). */
  const settle = (dir: TestDirectory) =>
    Effect.gen(function* () {
      const registration = yield* Registration
      const read = () => Effect.runSync(registration.state).phase
      yield* until(() => dir.state.answering === 0 && (RESTING.has(read()) || dir.state.hung > 0))
    })

  /** Advances the TestClock to the earliest pending sleep (stale timeout sleeps only cost an extra step). */
  const advance = Effect.gen(function* () {
    const pending = yield* TestClock.sleeps()
    const now = yield* TestClock.currentTimeMillis
    const next = Math.min(...Chunk.toReadonlyArray(pending).filter((t) => t > now))
    if (Number.isFinite(next)) yield* TestClock.setTime(next)
  })

  vitestIt("never two beats in flight, always re-register after 401/404/410, deregister with the latest token", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom<Beat>("ok", "hang", 401, 404, 410, 500), { minLength: 1, maxLength: 5 }), async (beats) => {
        const run = withNode(
          (dir) => dir.script.heartbeat.push(...beats),
          (dir, stop) =>
            Effect.gen(function* () {
              // Drive timers until every scripted answer was used and the node beats normally again.
              for (let step = 0; step < 200; step++) {
                yield* settle(dir)
                const used = dir.of("POST", "/v1/heartbeat").length >= beats.length + 1
                if (used && (yield* phase) === "registered.idle") break
                yield* advance
              }
              yield* stop
              const calls = dir.calls.filter((c) => c.path !== "/v1/directory-key")
              expect(dir.state.maxOpenHeartbeats).toBeLessThanOrEqual(1)
              calls.forEach((call, i) => {
                if (call.path !== "/v1/heartbeat") return
                const answer = beats[dir.of("POST", "/v1/heartbeat").indexOf(call)]
                if (answer === 401 || answer === 404 || answer === 410) {
                  const next = calls[i + 1]!
                  expect(next.path).toBe("/v1/register")
                  expect(`Bearer ${String(next.body["current_node_token"])}`).toBe(call.authorization)
                }
              })
              const deregister = dir.of("DELETE", "/v1/register")
              expect(deregister).toHaveLength(1)
              expect(deregister[0]!.authorization).toBe(`Bearer dir-token-${dir.state.issued}`)
            })
        )
        await Effect.runPromise(run.pipe(Effect.provide(TestContext.TestContext)))
      }),
      { numRuns: 8 }
    )
  }, 120_000)
})
