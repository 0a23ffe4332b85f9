/**
 * The registration machine (machines/node-registration.ts): a fast-check model over directory
 * behaviours on TestClock, and xstate/graph path properties. Invariants: specs/machine-invariants.json
 * "node-registration".
 */
import { readFileSync } from "node:fs"
import { Clock, Effect, Fiber, Runtime, TestClock, TestContext } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { fromCallback, fromPromise, getNextSnapshot } from "xstate"
import type { EventObject } from "xstate"
import { getShortestPaths, getSimplePaths } from "xstate/graph"
import {
  HEARTBEAT_BOUNDS_MS,
  heartbeatPeriod,
  nodeRegistrationMachine,
  REGISTER_BACKOFF_SCHEDULE_MS,
  registerBackoffMs,
  withinHeartbeatBounds
} from "../../machines/node-registration.js"
import { jittered } from "../../machines/task-lifecycle.js"
import type { HeartbeatFailure } from "../../machines/node-registration.js"
import { runToCompletion } from "../../src/runtime/host.js"

const invariants = JSON.parse(readFileSync(new URL("../../specs/machine-invariants.json", import.meta.url), "utf8"))["node-registration"]

type HeartbeatOutcome = "ok" | "timeout" | "failed" | 401 | 404 | 410 | 500 | { readonly next: number }
type RegisterOutcome = "ok" | "failed"

interface Call {
  readonly kind: "register" | "heartbeat" | "deregister"
  readonly start: number
  end?: number
  readonly token?: string | undefined
  readonly outcome?: string
}

/** Runs the machine against a scripted directory on TestClock; returns the call log. */
const simulate = (script: { register: Array<RegisterOutcome>; heartbeat: Array<HeartbeatOutcome>; horizonMs: number }) =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const now = () => Runtime.runSync(runtime)(Clock.currentTimeMillis)
    const calls: Array<Call> = []
    let inFlight = 0
    let maxInFlight = 0
    let tokens = 0
    let send: ((event: EventObject) => void) | undefined
    const registers = [...script.register]
    const beats = [...script.heartbeat]
    const logic = nodeRegistrationMachine.provide({
      actors: {
        register: fromPromise(async ({ input }) => {
          const call: Call = { kind: "register", start: now(), token: input.currentNodeToken }
          calls.push(call)
          await Promise.resolve()
          call.end = now()
          if ((registers.shift() ?? "ok") === "failed") throw { kind: "failed" }
          return { nodeToken: `token-${++tokens}`, observedSourceIp: "198.51.100.7" }
        }),
        heartbeat: fromPromise(async ({ input }) => {
          const outcome = beats.shift() ?? "ok"
          const call: Call = { kind: "heartbeat", start: now(), token: input.nodeToken, outcome: JSON.stringify(outcome) }
          calls.push(call)
          inFlight += 1
          maxInFlight = Math.max(maxInFlight, inFlight)
          await Promise.resolve()
          inFlight -= 1
          call.end = now()
          if (outcome === "ok") return {}
          if (typeof outcome === "object") return { nextHeartbeatMs: outcome.next }
          if (outcome === "timeout") throw { kind: "timeout" } satisfies HeartbeatFailure
          if (outcome === "failed") throw { kind: "failed" } satisfies HeartbeatFailure
          throw { kind: "rejected", status: outcome } satisfies HeartbeatFailure
        }),
        deregister: fromPromise(async ({ input }) => {
          calls.push({ kind: "deregister", start: now(), end: now(), token: input.nodeToken })
        }),
        drain: fromPromise(() => Promise.resolve()),
        commands: fromCallback(({ sendBack }) => {
          send = sendBack
        })
      }
    })
    const flush = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
    const fiber = yield* Effect.fork(runToCompletion(logic, { nodeId: "node-1" }))
    // Jump from timer to timer: exact times, few steps.
    const advance = Effect.gen(function* () {
      yield* flush
      const pending = yield* TestClock.sleeps()
      if (pending.length === 0) return false
      yield* TestClock.setTime(Math.min(...pending))
      return true
    })
    while (now() < script.horizonMs && (yield* advance)) {
      /* advancing */
    }
    yield* flush
    send!({ type: "STOP" })
    while (fiber.unsafePoll() === null && (yield* advance)) {
      /* draining */
    }
    const final = yield* Fiber.join(fiber)
    return { calls, maxInFlight, final: final.value, issued: tokens }
  })

const heartbeatOutcome: fc.Arbitrary<HeartbeatOutcome> = fc.oneof(
  fc.constantFrom<HeartbeatOutcome>("ok", "ok", "timeout", "failed", 401, 404, 410, 500),
  fc.integer({ min: 0, max: 120_000 }).map((next) => ({ next }))
)

const GONE = new Set(["401", "404", "410"])

describe("model over directory behaviours (TestClock)", () => {
  it("NR-1..NR-8 hold for any sequence of directory answers", () =>
      fc.assert(
        fc.asyncProperty(
          fc.array(fc.constantFrom<RegisterOutcome>("ok", "failed", "failed"), { maxLength: 5 }),
          fc.array(heartbeatOutcome, { maxLength: 8 }),
          async (register, heartbeat) => {
            const { calls, maxInFlight, final, issued } = await Effect.runPromise(
              simulate({ register, heartbeat, horizonMs: 240_000 }).pipe(Effect.provide(TestContext.TestContext))
            )
            // NR-1: never two heartbeats in flight.
            expect(maxInFlight).toBeLessThanOrEqual(1)
            let registerFailures = 0
            let beatFailures = 0
            let retried = false
            let period = 30_000
            for (let i = 0; i + 1 < calls.length; i++) {
              const call = calls[i]!
              const next = calls[i + 1]!
              if (next.kind === "deregister") continue
              if (call.kind === "register") {
                const failed = next.kind === "register"
                if (failed) {
                  registerFailures += 1
                  // NR-6: back-off schedule.
                  expect(next.start - call.end!).toBe(registerBackoffMs(registerFailures))
                } else {
                  registerFailures = 0
                  beatFailures = 0
                  retried = false
                  // NR-2: the first beat at once, with the new token.
                  expect(next.start).toBe(call.end)
                }
                continue
              }
              if (call.kind !== "heartbeat") continue
              const outcome = call.outcome!
              if (GONE.has(outcome)) {
                // NR-3: re-register with the rejected token.
                expect(next.kind).toBe("register")
                expect(next.token).toBe(call.token)
              } else if (outcome === '"timeout"' && !retried) {
                // NR-4: one retry after 100 ms.
                expect(next).toMatchObject({ kind: "heartbeat", start: call.end! + 100 })
                retried = true
              } else if (outcome === '"ok"' || outcome.startsWith("{")) {
                beatFailures = 0
                retried = false
                const requested = outcome.startsWith("{") ? (JSON.parse(outcome) as { next: number }).next : undefined
                period = heartbeatPeriod(requested)
                // NR-1/NR-7: the next beat a full (clamped) period after this one completed.
                expect(next).toMatchObject({ kind: "heartbeat", start: call.end! + period })
              } else {
                beatFailures += 1
                retried = false
                if (beatFailures >= 3) {
                  // NR-5: a directory outage leads to re-registration.
                  expect(next.kind).toBe("register")
                  beatFailures = 0
                } else {
                  // Other failures wait for the next regular beat.
                  expect(next).toMatchObject({ kind: "heartbeat", start: call.end! + period })
                }
              }
            }
            // NR-8: STOP ends in deregistered, with one deregister carrying the latest token when one was issued.
            expect(final).toBe("deregistered")
            const deregisters = calls.filter((c) => c.kind === "deregister")
            if (issued === 0) expect(deregisters).toHaveLength(0)
            else expect(deregisters).toEqual([expect.objectContaining({ token: `token-${issued}` })])
          }
        ),
        { numRuns: 25 }
      ))

  it("heartbeatPeriod clamps next_heartbeat_ms to 5000–60000 and defaults to 30000", () => {
    expect(heartbeatPeriod(undefined)).toBe(30_000)
    expect(heartbeatPeriod(1)).toBe(5_000)
    expect(heartbeatPeriod(45_000)).toBe(45_000)
    expect(heartbeatPeriod(10_000_000)).toBe(60_000)
    expect(heartbeatPeriod(Number.NaN)).toBe(30_000)
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(registerBackoffMs)).toEqual([2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000])
    expect(REGISTER_BACKOFF_SCHEDULE_MS).toHaveLength(6)
  })

  it("a jittered period kept within the bounds never leaves 5000–60000, whatever the PONG asked and the jitter drew", () => {
    fc.assert(
      fc.property(fc.option(fc.double({ min: -1e7, max: 1e7, noNaN: true }), { nil: undefined }), fc.double({ min: 0, max: 1, noNaN: true }), (requested, u) => {
        const period = withinHeartbeatBounds(jittered(heartbeatPeriod(requested), 0.1, u))
        expect(period).toBeGreaterThanOrEqual(HEARTBEAT_BOUNDS_MS.min)
        expect(period).toBeLessThanOrEqual(HEARTBEAT_BOUNDS_MS.max)
        expect(Number.isInteger(period)).toBe(true)
      })
    )
    expect(withinHeartbeatBounds(jittered(60_000, 0.1, 1))).toBe(60_000)
    expect(withinHeartbeatBounds(jittered(5_000, 0.1, 0))).toBe(5_000)
    expect(withinHeartbeatBounds(jittered(30_000, 0.1, 1))).toBe(33_000)
  })
})

describe("xstate/graph paths", () => {
  const events: Array<EventObject> = [
    { type: "xstate.done.actor.register", output: { nodeToken: "t" } } as EventObject,
    { type: "xstate.error.actor.register", error: { kind: "failed" } } as EventObject,
    { type: "xstate.done.actor.heartbeat", output: {} } as EventObject,
    ...[401, 404, 410, 500].map((status) => ({ type: "xstate.error.actor.heartbeat", error: { kind: "rejected", status } }) as EventObject),
    { type: "xstate.error.actor.heartbeat", error: { kind: "timeout" } } as EventObject,
    { type: "xstate.error.actor.heartbeat", error: { kind: "failed" } } as EventObject,
    { type: "xstate.after.registerBackoff.nodeRegistration.registering.backingOff" },
    { type: "xstate.after.registerBackoff.nodeRegistration.reregistering.backingOff" },
    { type: "xstate.after.heartbeatInterval.nodeRegistration.registered.idle" },
    { type: "xstate.after.heartbeatRetry.nodeRegistration.registered.retrying" },
    { type: "xstate.done.actor.drain" } as EventObject,
    { type: "xstate.done.actor.deregister" } as EventObject,
    { type: "STOP" },
    { type: "REREGISTER" }
  ]
  const serializeState = (snapshot: { value: unknown; context: { nodeToken?: string; heartbeatFailures: number; heartbeatRetried: boolean } }) =>
    JSON.stringify([snapshot.value, snapshot.context.nodeToken !== undefined, snapshot.context.heartbeatFailures, snapshot.context.heartbeatRetried])
  const options = { events: events as never, serializeState: serializeState as never, input: { nodeId: "n" } }
  const name = (value: unknown): string =>
    typeof value === "string" ? value : Object.entries(value as Record<string, unknown>).map(([k, v]) => `${k}.${name(v)}`)[0]!

  it("every state named in the invariants is reachable, and only deregistered is final", () => {
    const paths = getShortestPaths(nodeRegistrationMachine, options)
    const reached = new Set(paths.map((p) => name(p.state.value)))
    // `unregistered` is transient (an eventless choice), never a resting state.
    expect(nodeRegistrationMachine.root.initial?.target[0]?.key).toBe("unregistered")
    for (const state of invariants.states.filter((s: string) => s !== "unregistered")) expect(reached).toContain(state)
    for (const p of paths) expect(p.state.status === "done").toBe(name(p.state.value) === "deregistered")
  })

  it("NR-3: from every path into registered.beating, 401/404/410 lead to re-registering", () => {
    const paths = getShortestPaths(nodeRegistrationMachine, options).filter((p) => name(p.state.value) === "registered.beating")
    expect(paths.length).toBeGreaterThan(0)
    for (const p of paths) {
      for (const status of [401, 404, 410]) {
        const next = getNextSnapshot(nodeRegistrationMachine, p.state, { type: "xstate.error.actor.heartbeat", error: { kind: "rejected", status } } as never)
        expect(name(next.value)).toBe("reregistering.calling")
      }
    }
  })

  it("NR-1/NR-2: along every simple path, a beat starts only after register success or a heartbeat delay", () => {
    const paths = getSimplePaths(nodeRegistrationMachine, { ...options, limit: 5_000 } as never)
    expect(paths.length).toBeGreaterThan(10)
    const beatStarters = new Set([
      "xstate.done.actor.register",
      "xstate.after.heartbeatInterval.nodeRegistration.registered.idle",
      "xstate.after.heartbeatRetry.nodeRegistration.registered.retrying"
    ])
    let entries = 0
    for (const p of paths) {
      let previous = name(p.steps[0]?.state.value ?? "unregistered")
      for (const step of p.steps.slice(1)) {
        const current = name(step.state.value)
        if (current === "registered.beating" && previous !== "registered.beating") {
          entries += 1
          expect(beatStarters).toContain(step.event.type)
        }
        // A settled beat always leaves `beating`: the next one needs a delay first.
        if (step.event.type.startsWith("xstate.done.actor.heartbeat") || step.event.type.startsWith("xstate.error.actor.heartbeat")) {
          expect(current).not.toBe("registered.beating")
        }
        previous = current
      }
    }
    expect(entries).toBeGreaterThan(0)
  })

  it("NR-8: STOP from every reachable non-final state ends in deregistered (via deregistering when a token is held)", () => {
    const paths = getShortestPaths(nodeRegistrationMachine, options).filter((p) => p.state.status !== "done")
    for (const p of paths) {
      const stopped = getShortestPaths(nodeRegistrationMachine, {
        ...options,
        fromState: getNextSnapshot(nodeRegistrationMachine, p.state, { type: "STOP" }),
        toState: (s: { value: unknown }) => name(s.value) === "deregistered"
      } as never)
      expect(stopped.length).toBeGreaterThan(0)
      const hasToken = (p.state.context as { nodeToken?: string }).nodeToken !== undefined
      const throughDeregistering = stopped.some((s) => s.steps.some((step) => name(step.state.value) === "deregistering"))
      expect(throughDeregistering).toBe(hasToken)
    }
  })
})
