/** Idempotency and nonce replay (WIRE.md §5.6), RFC 8785 canonical JSON, NODE-TASK-06, TASK-2. */
import { randomUUID } from "node:crypto"
import { it as effectIt } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { canonicalJson } from "../../src/node/canonical-json.js"
import { makeIdempotencyLedger, taskFingerprint } from "../../src/node/idempotency.js"
import { echoBackend } from "../../src/node/index.js"
import { call, chatTask, eventually, startTestNode } from "./helpers.js"

describe("RFC 8785 canonical JSON", () => {
  it("sorts members by UTF-16 code units and serialises numbers the ECMAScript way", () => {
    // Vectors from RFC 8785 §3.2.2/§3.2.3 (the first literal is the RFC's, rounding included).
    // eslint-disable-next-line no-loss-of-precision
    expect(canonicalJson({ numbers: [333333333.33333329, 1e30, 4.5, 2e-3, 0.000000000000000000000000001] })).toBe(
      '{"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27]}'
    )
    expect(canonicalJson({ "\u20ac": "Euro", "\r": "CR", "1": "One", "\u0080": "Ctl", "\ud83d\ude00": "Smiley", "\u00f6": "o" })).toBe(
      '{"\\r":"CR","1":"One","\u0080":"Ctl","\u00f6":"o","\u20ac":"Euro","\ud83d\ude00":"Smiley"}'
    )
    expect(canonicalJson({ b: [true, null, "x\n"], a: { d: 1, c: -0 } })).toBe('{"a":{"c":0,"d":1},"b":[true,null,"x\\n"]}')
  })

  it("is invariant under member order and whitespace, and parses back to the same value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const reparsed = JSON.parse(JSON.stringify(value, null, 2))
        expect(canonicalJson(reparsed)).toBe(canonicalJson(value))
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)))
      })
    )
  })

  it("the fingerprint ignores top-level auth only", () => {
    const body = { task_id: "t", intent: "i", payload: { a: 1 } }
    expect(taskFingerprint({ ...body, auth: { token: "new" } })).toBe(taskFingerprint(body))
    expect(taskFingerprint({ ...body, payload: { a: 2 } })).not.toBe(taskFingerprint(body))
  })
})

describe("ledger at explicit times", () => {
  const WINDOW_MS = 300_000

  it("a finished entry replays within 300 s and is free again after", () => {
    const ledger = makeIdempotencyLedger()
    const claim = ledger.claimAt("t1", "f1", 0)
    expect(claim._tag).toBe("Fresh")
    if (claim._tag === "Fresh") claim.completeAt({ status: 200, body: Buffer.from("{}") }, 0)
    expect(ledger.claimAt("t1", "f1", 1)._tag).toBe("Replay")
    expect(ledger.claimAt("t1", "f2", WINDOW_MS - 1)._tag).toBe("Conflict")
    expect(ledger.claimAt("t1", "f2", WINDOW_MS)._tag).toBe("Fresh")
  })

  it("an abandoned claim records nothing; a nonce is remembered for 300 s", () => {
    const ledger = makeIdempotencyLedger()
    const claim = ledger.claimAt("t2", "f", 0)
    if (claim._tag === "Fresh") claim.abandonNow()
    expect(ledger.claimAt("t2", "other", 0)._tag).toBe("Fresh")
    ledger.recordNonceAt("n1", 1_000)
    expect(ledger.nonceSeenAt("n1", 1_000)).toBe(true)
    expect(ledger.nonceSeenAt("n1", 1_000 + WINDOW_MS - 1_000)).toBe(true)
    expect(ledger.nonceSeenAt("n1", 1_000 + WINDOW_MS)).toBe(false)
    expect(ledger.nonceSeenAt("never-recorded", 0)).toBe(false)
  })

  it("holds at most the cap, evicting the oldest finished entries first", () => {
    const ledger = makeIdempotencyLedger(WINDOW_MS, 3)
    ;["a", "b", "c", "d"].forEach((id, at) => {
      const claim = ledger.claimAt(id, "f", at)
      if (claim._tag === "Fresh") claim.completeAt({ status: 200, body: Buffer.from(id) }, at)
    })
    expect(ledger.claimAt("a", "other", 4)._tag).toBe("Fresh")
    expect(ledger.claimAt("d", "other", 4)._tag).toBe("Conflict")
  })

  effectIt.effect("the Effect forms of a Fresh claim read the Effect clock: complete stamps the window from TestClock's now", () =>
    Effect.gen(function* () {
      const ledger = makeIdempotencyLedger()
      yield* TestClock.adjust("10 seconds")
      const claim = ledger.claimAt("t3", "f", 10_000)
      if (claim._tag === "Fresh") yield* claim.complete({ status: 200, body: Buffer.from("{}") })
      expect(ledger.claimAt("t3", "g", 10_000 + WINDOW_MS - 1)._tag).toBe("Conflict")
      expect(ledger.claimAt("t3", "g", 10_000 + WINDOW_MS)._tag).toBe("Fresh")
      const abandoned = ledger.claimAt("t4", "f", 0)
      if (abandoned._tag === "Fresh") yield* abandoned.abandon
      expect(ledger.claimAt("t4", "other", 0)._tag).toBe("Fresh")
    })
  )
})

describe("over HTTP", () => {
  let url: string
  let stop: () => Promise<void>
  let runs = new Map<string, number>()
  let release: (() => void) | undefined
  beforeAll(async () => {
    const echo = echoBackend()
    const node = await startTestNode(async (task, context) => {
      runs.set(task.task_id, (runs.get(task.task_id) ?? 0) + 1)
      if ((task.payload as { slow?: boolean }).slow) await new Promise<void>((resolve) => (release = resolve))
      return echo(task, context)
    })
    url = node.url
    stop = node.server.stop
  })
  afterAll(() => stop())

  it("an identical retry gets the stored answer byte for byte with X-IICP-Idempotent-Replay, the handler ran once", async () => {
    const body = chatTask()
    const first = await call(`${url}/v1/task`, { body })
    // A refreshed credential and another member order do not change the fingerprint.
    const reordered = Object.fromEntries(Object.entries({ ...body, auth: { token: "fresh" } }).reverse())
    const second = await call(`${url}/v1/task`, { body: reordered })
    expect(second.status).toBe(first.status)
    expect(second.text).toBe(first.text)
    expect(second.headers["x-iicp-idempotent-replay"]).toBe("true")
    expect(first.headers["x-iicp-idempotent-replay"]).toBeUndefined()
    expect(runs.get(body["task_id"] as string)).toBe(1)
  })

  it("NODE-TASK-06: the same task_id with another body → 409 conflict IICP-E010 task_id_reused", async () => {
    const body = chatTask()
    await call(`${url}/v1/task`, { body })
    const res = await call(`${url}/v1/task`, { body: { ...body, payload: { messages: [{ role: "user", content: "other" }] } } })
    expect(res.status).toBe(409)
    expect(res.json.error).toMatchObject({ code: "conflict", iicp_code: "IICP-E010", reason: "task_id_reused" })
  })

  it("a retry while the first runs waits for it and never runs the handler twice", async () => {
    const body = chatTask({ payload: { slow: true, messages: [{ role: "user", content: "slow" }] } })
    const first = call(`${url}/v1/task`, { body })
    await eventually(() => runs.get(body["task_id"] as string) === 1)
    const second = call(`${url}/v1/task`, { body })
    release!()
    const [a, b] = await Promise.all([first, second])
    expect(a.status).toBe(200)
    expect(b.text).toBe(a.text)
    expect(runs.get(body["task_id"] as string)).toBe(1)
  })

  it("a nonce seen before → 409 IICP-E011 replay_detected", async () => {
    const nonce = randomUUID()
    expect((await call(`${url}/v1/task`, { body: chatTask({ nonce }) })).status).toBe(200)
    const replay = await call(`${url}/v1/task`, { body: chatTask({ nonce }) })
    expect(replay.status).toBe(409)
    expect(replay.json.error).toMatchObject({ code: "conflict", iicp_code: "IICP-E011", reason: "replay_detected" })
  })

  it("a request refused before the handler records nothing: the task_id stays free", async () => {
    const body = chatTask()
    expect((await call(`${url}/v1/task`, { body: { ...body, constraints: { qos: "bogus" } } })).status).toBe(422)
    expect((await call(`${url}/v1/task`, { body })).status).toBe(200)
  })

  it("TASK-2: distinct task_ids run independently", async () => {
    runs = new Map()
    const bodies = [chatTask(), chatTask(), chatTask()]
    const answers = await Promise.all(bodies.map((body) => call(`${url}/v1/task`, { body })))
    expect(answers.map((a) => a.json.task_id)).toEqual(bodies.map((b) => b["task_id"]))
    expect([...runs.values()]).toEqual([1, 1, 1])
  })
})
