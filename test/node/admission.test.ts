/** Admission and QoS (WIRE.md §5.8): NODE-CONC-01, QOS-ADMIT-01, TASK-3, no leaked slots. */
import { it as effectIt } from "@effect/vitest"
import { Effect, Either, Fiber, TestClock } from "effect"
import { describe, expect, it } from "vitest"
import { effectiveCapacity, makeAdmissionGate, shareAt } from "../../src/node/admission.js"
import { echoBackend } from "../../src/node/index.js"
import type { TaskHandler } from "../../src/node/index.js"
import { call, chatTask, eventually, realDelay, startTestNode } from "./helpers.js"

describe("effective capacity", () => {
  it("max(1, floor(max × share)), 0 stays 0, 0.5 outside windows, windows may span midnight", () => {
    expect(effectiveCapacity(4, 1)).toBe(4)
    expect(effectiveCapacity(3, 0.5)).toBe(1)
    expect(effectiveCapacity(4, 0)).toBe(1)
    expect(effectiveCapacity(0, 1)).toBe(0)
    const windows = [{ start: "22:00", end: "06:00", share: 1 }, { start: "09:00", end: "17:00", share: 0.25 }]
    expect(shareAt(windows, new Date(2026, 0, 1, 23, 30))).toBe(1)
    expect(shareAt(windows, new Date(2026, 0, 1, 6, 0))).toBe(1)
    expect(shareAt(windows, new Date(2026, 0, 1, 12, 0))).toBe(0.25)
    expect(shareAt(windows, new Date(2026, 0, 1, 18, 0))).toBe(0.5)
    expect(shareAt([], new Date())).toBe(1)
  })
})

describe("the gate on the Effect clock", () => {
  const holdUntil = (latch: Array<() => void>) => Effect.async<void>((resume) => void latch.push(() => resume(Effect.void)))

  effectIt.effect("batch and best-effort never wait; realtime beats interactive; FIFO within a class", () =>
    Effect.gen(function* () {
      const gate = makeAdmissionGate({ maxConcurrent: 1, availability: [], queueWaitMs: 1_000 })
      const latch: Array<() => void> = []
      const order: Array<string> = []
      const holder = yield* Effect.fork(gate.withSlot("interactive", holdUntil(latch)))
      yield* Effect.yieldNow()
      const batch = yield* Effect.either(gate.withSlot("batch", Effect.void))
      expect(Either.isLeft(batch) && batch.left.reason).toBe("saturated")
      const waiting = (name: string, qos: "realtime" | "interactive") =>
        Effect.fork(gate.withSlot(qos, Effect.sync(() => order.push(name))))
      const i1 = yield* waiting("interactive-1", "interactive")
      const i2 = yield* waiting("interactive-2", "interactive")
      const r1 = yield* waiting("realtime-1", "realtime")
      yield* Effect.yieldNow()
      latch[0]!()
      yield* Fiber.join(holder)
      yield* Fiber.join(r1)
      yield* Fiber.join(i1)
      yield* Fiber.join(i2)
      expect(order).toEqual(["realtime-1", "interactive-1", "interactive-2"])
      expect((yield* gate.snapshot).active).toBe(0)
    })
  )

  effectIt.effect("a waiter gives up after queueWaitMs and leaves no slot behind", () =>
    Effect.gen(function* () {
      const gate = makeAdmissionGate({ maxConcurrent: 1, availability: [], queueWaitMs: 500 })
      const latch: Array<() => void> = []
      const holder = yield* Effect.fork(gate.withSlot("interactive", holdUntil(latch)))
      yield* Effect.yieldNow()
      const waiter = yield* Effect.fork(Effect.either(gate.withSlot("realtime", Effect.void)))
      yield* TestClock.adjust("499 millis")
      expect(waiter.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      const result = yield* Fiber.join(waiter)
      expect(Either.isLeft(result) && result.left.reason).toBe("wait_expired")
      latch[0]!()
      yield* Fiber.join(holder)
      expect((yield* gate.snapshot).active).toBe(0)
    })
  )

  effectIt.effect("an interrupted holder releases its slot", () =>
    Effect.gen(function* () {
      const gate = makeAdmissionGate({ maxConcurrent: 2, availability: [], queueWaitMs: 0 })
      const fibers = [yield* Effect.fork(gate.withSlot("interactive", Effect.never)), yield* Effect.fork(gate.withSlot("batch", Effect.never))]
      yield* Effect.yieldNow()
      expect((yield* gate.snapshot).active).toBe(2)
      yield* Fiber.interruptAll(fibers)
      expect((yield* gate.snapshot).active).toBe(0)
    })
  )
})

describe("over HTTP", () => {
  it("NODE-CONC-01, QOS-ADMIT-01, TASK-3: a burst of 10× maxConcurrent gets only 200/429 and never more than maxConcurrent handlers", async () => {
    const maxConcurrent = 4
    let running = 0
    let peak = 0
    const echo = echoBackend()
    const handler: TaskHandler = async (task, context) => {
      running += 1
      peak = Math.max(peak, running)
      await realDelay(50)
      running -= 1
      return echo(task, context)
    }
    const { url, server } = await startTestNode(handler, { maxConcurrent })
    try {
      const answers = await Promise.all(
        Array.from({ length: maxConcurrent * 10 }, (_, i) =>
          call(`${url}/v1/task`, { body: chatTask({ constraints: { qos: i % 2 === 0 ? "interactive" : "batch" } }) })
        )
      )
      const statuses = new Set(answers.map((a) => a.status))
      expect([...statuses].every((s) => s === 200 || s === 429)).toBe(true)
      expect(answers.filter((a) => a.status === 200).length).toBeGreaterThanOrEqual(maxConcurrent)
      expect(peak).toBeLessThanOrEqual(maxConcurrent)
      const refused = answers.filter((a) => a.status === 429)
      expect(refused.length).toBeGreaterThan(0)
      for (const r of refused) {
        expect(r.headers["retry-after"]).toBe("2")
        expect(r.json.error).toMatchObject({ code: "capacity_exceeded", iicp_code: "IICP-E021", retry_after_ms: 2000 })
        expect(["interactive", "batch"]).toContain(r.json.error.qos_class)
      }
      expect((await call(`${url}/iicp/health`)).json.active_jobs).toBe(0)
    } finally {
      await server.stop()
    }
  })

  it("no leaked slots after deadlines pass on handlers that ignore their signal", async () => {
    const { url, server } = await startTestNode(() => new Promise(() => undefined), { maxConcurrent: 2 })
    try {
      const answers = await Promise.all([1, 2].map(() => call(`${url}/v1/task`, { body: chatTask({ constraints: { timeout_ms: 100 } }) })))
      expect(answers.map((a) => a.status)).toEqual([504, 504])
      const health = await call(`${url}/iicp/health`)
      expect(health.json).toMatchObject({ active_jobs: 0, available: true })
    } finally {
      await server.stop()
    }
  })

  it("a client that aborts its connection cancels the handler and frees the slot", async () => {
    const aborted: Array<string> = []
    const started: Array<string> = []
    const handler: TaskHandler = (task, { signal }) =>
      new Promise((_resolve, reject) => {
        started.push(task.task_id)
        signal.addEventListener("abort", () => {
          aborted.push(task.task_id)
          reject(new Error("aborted"))
        })
      })
    const { url, server } = await startTestNode(handler, { maxConcurrent: 3 })
    try {
      const controllers = [1, 2, 3].map(() => new AbortController())
      const pending = controllers.map((c) => call(`${url}/v1/task`, { body: chatTask(), signal: c.signal }).catch(() => undefined))
      await eventually(() => started.length === 3)
      expect((await call(`${url}/iicp/health`)).json.active_jobs).toBe(3)
      controllers.forEach((c) => c.abort())
      await Promise.all(pending)
      await eventually(async () => (await call(`${url}/iicp/health`)).json.active_jobs === 0)
      expect(aborted.sort()).toEqual([...started].sort())
    } finally {
      await server.stop()
    }
  })

  it("with queueWaitMs a realtime task waits for a freed slot instead of 429", async () => {
    let release: (() => void) | undefined
    const echo = echoBackend()
    const { url, server } = await startTestNode(
      async (task, context) => {
        if ((task.payload as { hold?: boolean }).hold) await new Promise<void>((resolve) => (release = resolve))
        return echo(task, context)
      },
      { maxConcurrent: 1, queueWaitMs: 2_000 }
    )
    try {
      const holder = call(`${url}/v1/task`, { body: chatTask({ payload: { hold: true } }) })
      await eventually(() => release !== undefined)
      const batch = await call(`${url}/v1/task`, { body: chatTask({ constraints: { qos: "batch" } }) })
      expect(batch.status).toBe(429)
      const realtime = call(`${url}/v1/task`, { body: chatTask({ constraints: { qos: "realtime" } }) })
      await realDelay(50)
      release!()
      expect((await holder).status).toBe(200)
      expect((await realtime).status).toBe(200)
    } finally {
      await server.stop()
    }
  })

  it("maxConcurrent 0 refuses every task", async () => {
    const { url, server } = await startTestNode(echoBackend(), { maxConcurrent: 0 })
    try {
      expect((await call(`${url}/v1/task`, { body: chatTask() })).status).toBe(429)
    } finally {
      await server.stop()
    }
  })
})
