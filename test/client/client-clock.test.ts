/**
 * The Effect client under TestClock: back-off, retry hints, capacity failover, the task deadline,
 * the circuit breaker and the discover cache, with real sockets on 127.0.0.1 and a frozen clock
 * that only `TestClock.adjust` moves.
 */
import { it } from "@effect/vitest"
import { Effect, Fiber, Exit, TestClock } from "effect"
import type { Scope } from "effect"
import { describe, expect } from "vitest"
import type { InspectionEvent } from "xstate"
import { IicpClientService } from "../../src/effect.js"
import type { IicpClientApi, IicpClientConfig } from "../../src/effect.js"
import { errorCode } from "../../src/protocol/errors.js"
import type { Behaviour, FakeServer } from "./fixtures.js"
import { failureOf, freePort, closeAll, nestedError, startDirectory, startNode, success } from "./fixtures.js"

const CHAT = "urn:iicp:intent:llm:chat:v1"
const TASK = { intent: CHAT, payload: { messages: [{ role: "user", content: "hi" }] } }

/** Machine states seen by the inspector, with a way to wait for one. */
const stateLog = () => {
  const seen: Array<string> = []
  const waiters: Array<() => void> = []
  return {
    seen,
    inspect: (event: InspectionEvent) => {
      if (event.type !== "@xstate.snapshot") return
      const value = (event.snapshot as { value?: unknown }).value
      if (value === undefined) return
      seen.push(JSON.stringify(value))
      for (const w of waiters.splice(0)) w()
    },
    /** Waits until `state` has been entered `times` times in all. */
    entered: (state: string, times = 1) =>
      Effect.promise(
        () =>
          new Promise<void>((resolve) => {
            const check = () => (seen.filter((s) => s.includes(`"${state}"`)).length >= times ? resolve() : waiters.push(check))
            check()
          })
      ),
    current: () => seen.at(-1) ?? ""
  }
}

/** Fake servers for one test, closed with its scope. */
const servers = (start: () => Promise<ReadonlyArray<FakeServer>>): Effect.Effect<ReadonlyArray<FakeServer>, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.promise(start), (all) => Effect.promise(() => closeAll(all)))

/** A directory listing one scripted node per script, in order. */
const mesh = (scripts: ReadonlyArray<ReadonlyArray<Behaviour>>) =>
  Effect.gen(function* () {
    const nodes = yield* servers(() => Promise.all(scripts.map((s) => startNode(s))))
    const [directory] = yield* servers(async () => [await startDirectory({ nodes: nodes.map((n, i) => ({ node_id: `node-${i}`, endpoint: n.url })) })])
    return { directory: directory!, nodes }
  })

/** Runs `body` with a client built by the Effect layer. */
const withClient = <A, E>(config: IicpClientConfig, body: (client: IicpClientApi) => Effect.Effect<A, E, Scope.Scope>) =>
  Effect.flatMap(IicpClientService, body).pipe(Effect.provide(IicpClientService.layer(config)))

const requests = (node: FakeServer) => Effect.sync(() => node.requests.length)
const arrived = (node: FakeServer, n: number) => Effect.promise(() => node.waitForRequests(n))

describe("back-off and retry hints on the Effect clock (§4.4)", () => {
  it.scoped("503 then 200 on a one-node mesh: the retry waits the back-off, 160–240 ms", () =>
    Effect.gen(function* () {
      const { directory, nodes } = yield* mesh([[nestedError(503, "unavailable"), success()]])
      const log = stateLog()
      yield* withClient({ directoryUrl: directory.url, inspect: log.inspect }, (client) =>
        Effect.gen(function* () {
          const fiber = yield* Effect.fork(client.submit(TASK))
          yield* log.entered("backingOff")
          yield* TestClock.adjust("159 millis")
          expect(log.current()).toContain("backingOff")
          expect(yield* requests(nodes[0]!)).toBe(1)
          yield* TestClock.adjust("81 millis")
          const res = yield* Fiber.join(fiber)
          expect(res.attempts).toBe(2)
          expect(nodes[0]!.requests[1]?.body).toEqual(nodes[0]!.requests[0]?.body)
        })
      )
    })
  )

  it.scoped("429 rate_limited with Retry-After: 1 waits the hint (1 s), not just the back-off", () =>
    Effect.gen(function* () {
      const { directory, nodes } = yield* mesh([[nestedError(429, "rate_limited", "slow down", {}, { "retry-after": "1" }), success()]])
      const log = stateLog()
      yield* withClient({ directoryUrl: directory.url, inspect: log.inspect }, (client) =>
        Effect.gen(function* () {
          const fiber = yield* Effect.fork(client.submit(TASK))
          yield* log.entered("backingOff")
          yield* TestClock.adjust("999 millis")
          expect(log.current()).toContain("backingOff")
          expect(yield* requests(nodes[0]!)).toBe(1)
          yield* TestClock.adjust("1 millis")
          expect((yield* Fiber.join(fiber)).attempts).toBe(2)
        })
      )
    })
  )

  it.scoped("a capacity 429 fails over to the next node with the clock standing still (QOS-ADMIT-02)", () =>
    Effect.gen(function* () {
      const capacity = nestedError(429, "capacity_exceeded", "node at capacity", { iicp_code: "IICP-E021", retry_after_ms: 2000 }, { "retry-after": "2" })
      const { directory, nodes } = yield* mesh([[capacity], [success()]])
      yield* withClient({ directoryUrl: directory.url }, (client) =>
        Effect.gen(function* () {
          const res = yield* client.submit(TASK)
          expect(res.node_id).toBe("node-1")
          expect(nodes.map((n) => n.requests.length)).toEqual([1, 1])
        })
      )
    })
  )

  it.scoped("3 attempts at most; all 503 → no_available_node; one traceparent on the discover and every attempt", () =>
    Effect.gen(function* () {
      const { directory, nodes } = yield* mesh([[nestedError(503, "unavailable")], [nestedError(503, "unavailable")]])
      const log = stateLog()
      yield* withClient({ directoryUrl: directory.url, inspect: log.inspect }, (client) =>
        Effect.gen(function* () {
          const fiber = yield* Effect.fork(Effect.exit(client.submit(TASK)))
          yield* log.entered("backingOff", 1)
          yield* TestClock.adjust("240 millis")
          yield* log.entered("backingOff", 2)
          // Both nodes tried: the rotation starts again at the first after the second back-off (320–480 ms).
          yield* TestClock.adjust("479 millis")
          const error = failureOf(yield* Fiber.join(fiber))
          expect(errorCode(error)).toBe("no_available_node")
          expect(error._tag === "AllNodesFailed" && error.attempts.map((a) => a.node_id)).toEqual(["node-0", "node-1", "node-0"])
          const tasks = [...nodes[0]!.requests, ...nodes[1]!.requests]
          expect(tasks).toHaveLength(3)
          const trace = directory.requests[0]?.headers["traceparent"]
          expect(tasks.every((t) => t.headers["traceparent"] === trace)).toBe(true)
          expect(new Set(tasks.map((t) => (t.body as { task_id: string }).task_id)).size).toBe(1)
        })
      )
    })
  )
})

describe("the task deadline (§4.3)", () => {
  it.scoped("a node hanging past the deadline ends in `timeout` and its request is aborted", () =>
    Effect.gen(function* () {
      const { directory, nodes } = yield* mesh([[{ kind: "hang" }]])
      yield* withClient({ directoryUrl: directory.url, timeoutMs: 1_000 }, (client) =>
        Effect.gen(function* () {
          const fiber = yield* Effect.fork(Effect.exit(client.submit(TASK)))
          yield* arrived(nodes[0]!, 1)
          // The deadline is timeout_ms plus the 2 s attempt grace of §1.4.
          yield* TestClock.adjust("2999 millis")
          expect(fiber.unsafePoll()).toBeNull()
          yield* TestClock.adjust("1 millis")
          expect(errorCode(failureOf(yield* Fiber.join(fiber)))).toBe("timeout")
          yield* Effect.promise(() => nodes[0]!.waitForAborts(1))
        })
      )
    })
  )

  it.scoped("interrupting the fiber aborts the in-flight request and the machine lands in cancelled", () =>
    Effect.gen(function* () {
      const { directory, nodes } = yield* mesh([[{ kind: "hang" }]])
      const log = stateLog()
      yield* withClient({ directoryUrl: directory.url, inspect: log.inspect }, (client) =>
        Effect.gen(function* () {
          const fiber = yield* Effect.fork(client.submit(TASK))
          yield* arrived(nodes[0]!, 1)
          yield* Fiber.interrupt(fiber)
          yield* Effect.promise(() => nodes[0]!.waitForAborts(1))
          expect(nodes[0]!.abortedByClient).toBe(1)
          expect(log.current()).toBe('"cancelled"')
        })
      )
    })
  )
})

describe("circuit breaker (§4.2)", () => {
  it.scoped("5 consecutive 5xx open it for 30 s (the node is skipped → IICP-E033), then one half-open trial", () =>
    Effect.gen(function* () {
      const error500 = nestedError(500, "internal_error")
      const { directory, nodes } = yield* mesh([[error500, error500, error500, error500, error500, success()]])
      yield* withClient({ directoryUrl: directory.url }, (client) =>
        Effect.gen(function* () {
          for (let i = 0; i < 5; i++) expect(errorCode(failureOf(yield* Effect.exit(client.submit(TASK))))).toBe("internal_error")
          expect(errorCode(failureOf(yield* Effect.exit(client.submit(TASK))))).toBe("IICP-E033")
          expect(yield* requests(nodes[0]!)).toBe(5)
          yield* TestClock.adjust("29999 millis")
          expect(errorCode(failureOf(yield* Effect.exit(client.submit(TASK))))).toBe("IICP-E033")
          yield* TestClock.adjust("1 millis")
          const res = yield* client.submit(TASK)
          expect(res.node_id).toBe("node-0")
          // The trial succeeded: closed again.
          yield* client.submit(TASK)
          expect(yield* requests(nodes[0]!)).toBe(7)
        })
      )
    })
  )
})

describe("the directory's circuit breaker (§4.2)", () => {
  const INTENT = "urn:iicp:intent:llm:chat:v1"
  /** The discover's failure, or `undefined` when it succeeded. */
  const discoverFailure = (client: IicpClientApi, limit = 10) =>
    Effect.map(Effect.exit(client.discover(INTENT, { limit })), (exit) => (Exit.isSuccess(exit) ? undefined : failureOf(exit)))
  const circuitOpen = { _tag: "DirectoryUnavailable", reason: "circuit_open" }

  it.scoped("5 consecutive 5xx open it for 30 s: discover and submit fail at once without I/O, then one half-open trial closes it", () =>
    Effect.gen(function* () {
      const options: Parameters<typeof startDirectory>[0] = { nodes: [], discoverStatus: 503 }
      const [directory] = yield* servers(async () => [await startDirectory(options)])
      yield* withClient({ directoryUrl: directory!.url }, (client) =>
        Effect.gen(function* () {
          for (let i = 0; i < 5; i++) expect(yield* discoverFailure(client)).toMatchObject({ _tag: "DirectoryUnavailable", reason: "status", status: 503 })
          const open = yield* discoverFailure(client)
          expect(open).toMatchObject(circuitOpen)
          expect(errorCode(open!)).toBe("unavailable")
          expect(failureOf(yield* Effect.exit(client.submit(TASK)))).toMatchObject(circuitOpen)
          expect(directory!.requests).toHaveLength(5)
          yield* TestClock.adjust("29999 millis")
          expect(yield* discoverFailure(client)).toMatchObject(circuitOpen)
          expect(directory!.requests).toHaveLength(5)
          yield* TestClock.adjust("1 millis")
          delete options.discoverStatus
          expect(yield* discoverFailure(client, 1)).toBeUndefined()
          // The trial succeeded: closed, so calls go out again (another query, not the cached one).
          expect(yield* discoverFailure(client, 2)).toBeUndefined()
          expect(directory!.requests).toHaveLength(7)
        })
      )
    })
  )

  it.scoped("half-open admits one trial at a time; a trial that times out reopens it for another 30 s", () =>
    Effect.gen(function* () {
      const options: Parameters<typeof startDirectory>[0] = { nodes: [], discoverStatus: 500 }
      const [directory] = yield* servers(async () => [await startDirectory(options)])
      yield* withClient({ directoryUrl: directory!.url }, (client) =>
        Effect.gen(function* () {
          for (let i = 0; i < 5; i++) yield* discoverFailure(client)
          yield* TestClock.adjust("30 seconds")
          delete options.discoverStatus
          options.hangDiscover = true
          const trial = yield* Effect.fork(discoverFailure(client, 1))
          yield* arrived(directory!, 6)
          // The one trial is in flight: another query is refused without I/O.
          expect(yield* discoverFailure(client, 2)).toMatchObject(circuitOpen)
          expect(directory!.requests).toHaveLength(6)
          yield* TestClock.adjust("5 seconds")
          expect(yield* Fiber.join(trial)).toMatchObject({ _tag: "DirectoryUnavailable", reason: "timeout" })
          expect(yield* discoverFailure(client, 3)).toMatchObject(circuitOpen)
          yield* TestClock.adjust("29999 millis")
          expect(yield* discoverFailure(client, 3)).toMatchObject(circuitOpen)
          yield* TestClock.adjust("1 millis")
          options.hangDiscover = false
          expect(yield* discoverFailure(client, 3)).toBeUndefined()
          expect(directory!.requests).toHaveLength(7)
        })
      )
    })
  )

  it.scoped("4xx answers do not count; connect errors do", () =>
    Effect.gen(function* () {
      const options: Parameters<typeof startDirectory>[0] = { nodes: [], discoverStatus: 429 }
      const [directory] = yield* servers(async () => [await startDirectory(options)])
      yield* withClient({ directoryUrl: directory!.url }, (client) =>
        Effect.gen(function* () {
          for (let i = 0; i < 8; i++) expect(yield* discoverFailure(client)).toMatchObject({ reason: "status", status: 429 })
          expect(directory!.requests).toHaveLength(8)
        })
      )
      const port = yield* Effect.promise(freePort)
      yield* withClient({ directoryUrl: `http://127.0.0.1:${port}` }, (client) =>
        Effect.gen(function* () {
          for (let i = 0; i < 5; i++) expect(yield* discoverFailure(client)).toMatchObject({ _tag: "DirectoryUnavailable", reason: "transport" })
          expect(yield* discoverFailure(client)).toMatchObject(circuitOpen)
        })
      )
    })
  )
})

describe("discover cache (§4.2, max-age on the Effect clock)", () => {
  it.scoped("a burst of chats costs one discover; the answer is reused for max-age = 5 s", () =>
    Effect.gen(function* () {
      const { directory, nodes } = yield* mesh([[success()]])
      yield* withClient({ directoryUrl: directory.url }, (client) =>
        Effect.gen(function* () {
          const burst = Array.from({ length: 8 }, () => client.chat([{ role: "user", content: "hi" }]))
          yield* Effect.all(burst, { concurrency: "unbounded" })
          expect(directory.requests).toHaveLength(1)
          expect(yield* requests(nodes[0]!)).toBe(8)
          yield* TestClock.adjust("4999 millis")
          yield* client.chat([{ role: "user", content: "hi" }])
          expect(directory.requests).toHaveLength(1)
          yield* TestClock.adjust("2 millis")
          yield* client.chat([{ role: "user", content: "hi" }])
          expect(directory.requests).toHaveLength(2)
        })
      )
    })
  )

  it.scoped("a failed discover is not cached", () =>
    Effect.gen(function* () {
      const [directory] = yield* servers(async () => [await startDirectory({ apiOnly: true, nodes: [] })])
      yield* withClient({ directoryUrl: `${directory!.url}/api` }, (client) =>
        Effect.gen(function* () {
          expect(errorCode(failureOf(yield* Effect.exit(client.submit(TASK))))).toBe("IICP-E033")
          expect(errorCode(failureOf(yield* Effect.exit(client.discover("urn:iicp:intent:llm:chat:v1", { limit: 51 }))))).toBe("validation_error")
          expect(directory!.requests).toHaveLength(1)
        })
      )
    })
  )
})

describe("consumer tokens (§4.4)", () => {
  it.scoped("optional: fetched with the client's own credentials, sent as X-IICP-Consumer-Token, cached per (node, intent)", () =>
    Effect.gen(function* () {
      const nodes = yield* servers(() => Promise.all([startNode([success()])]))
      const [directory] = yield* servers(async () => [
        await startDirectory({ consumerTokens: true, nodes: [{ node_id: "node-0", endpoint: nodes[0]!.url }] })
      ])
      yield* withClient({ directoryUrl: directory!.url, consumerAuth: "optional", nodeId: "me-1", nodeToken: "a".repeat(64) }, (client) =>
        Effect.gen(function* () {
          yield* client.submit(TASK)
          yield* client.submit(TASK)
          const tokenCalls = directory!.requests.filter((r) => r.path === "/v1/consumer-token")
          expect(tokenCalls).toHaveLength(1)
          expect(tokenCalls[0]?.headers["authorization"]).toBe(`Bearer ${"a".repeat(64)}`)
          expect(tokenCalls[0]?.headers["x-node-id"]).toBe("me-1")
          expect(tokenCalls[0]?.body).toEqual({ target_node_id: "node-0", intent: CHAT })
          expect(nodes[0]!.requests.map((r) => r.headers["x-iicp-consumer-token"])).toEqual(["ct-node-0", "ct-node-0"])
          expect(nodes[0]!.requests[0]?.headers["authorization"]).toBeUndefined()
        })
      )
    })
  )

  it.scoped("required: a node without a token is skipped (→ IICP-E033), never contacted", () =>
    Effect.gen(function* () {
      const { directory, nodes } = yield* mesh([[success()]])
      yield* withClient({ directoryUrl: directory.url, consumerAuth: "required", nodeId: "me-1", nodeToken: "b".repeat(64) }, (client) =>
        Effect.gen(function* () {
          expect(errorCode(failureOf(yield* Effect.exit(client.submit(TASK))))).toBe("IICP-E033")
          expect(yield* requests(nodes[0]!)).toBe(0)
        })
      )
    })
  )
})
