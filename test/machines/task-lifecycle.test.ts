/**
 * The task-lifecycle machine driven directly: fake `discover`/`submitAttempt` actors and XState's
 * SimulatedClock. Scenario tests, fast-check properties over arbitrary outcome sequences, and
 * xstate/graph path tests over its whole reachable state space.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { createActor, fromCallback, getNextSnapshot, SimulatedClock } from "xstate"
import type { EventObject, SnapshotFrom } from "xstate"
import { getShortestPaths, getSimplePaths } from "xstate/graph"
import { backoffDelayMs, TASK_MAX_HINT_MS, taskLifecycleMachine } from "../../machines/task-lifecycle.js"
import type { AttemptCall, DiscoverCall, TaskCandidate, TaskLifecycleEvent, TaskLifecycleInput, TaskLifecycleOutput } from "../../machines/task-lifecycle.js"

type AttemptOutcome = Extract<TaskLifecycleEvent, { type: `ATTEMPT.${string}` }>
type Snapshot = SnapshotFrom<typeof taskLifecycleMachine>

const nodes = (n: number, unavailable: ReadonlyArray<number> = []): Array<TaskCandidate> =>
  Array.from({ length: n }, (_, i) => ({ nodeId: `n${i}`, endpoint: `http://n${i}`, ...(unavailable.includes(i) ? { available: false } : {}) }))

interface Call {
  readonly nodeId: string
  readonly attempt: number
  readonly at: number
}

interface Run {
  readonly calls: ReadonlyArray<Call>
  readonly snapshot: Snapshot
  readonly output: TaskLifecycleOutput
  /** Clock time of the CANCEL, when one was sent. */
  readonly cancelledAt: number | undefined
  readonly discoveries: number
}

/**
 * Runs the machine to its end: discovery yields `candidates`, attempt k yields `outcomes[k]`
 * (success once they run out). Actor answers are delivered one step later, so CANCEL can arrive
 * while discovery or an attempt is in flight; when nothing is in flight the clock jumps to the
 * next timer. `cancelAfterCalls` sends CANCEL once that many attempts were started.
 */
const drive = (options: {
  readonly candidates: ReadonlyArray<TaskCandidate>
  readonly outcomes: ReadonlyArray<AttemptOutcome>
  readonly input?: Omit<TaskLifecycleInput, "taskId" | "deadlineMs">
  readonly cancelAfterCalls?: number | undefined
}): Run => {
  const clock = new SimulatedClock()
  const calls: Array<Call> = []
  let discoveries = 0
  let inFlight: (() => void) | undefined
  const machine = taskLifecycleMachine.provide({
    actors: {
      discover: fromCallback<EventObject, DiscoverCall>(({ sendBack }) => {
        discoveries += 1
        inFlight = () => sendBack({ type: "DISCOVERY.DONE", candidates: options.candidates })
      }),
      submitAttempt: fromCallback<EventObject, AttemptCall>(({ input, sendBack }) => {
        calls.push({ nodeId: input.candidate.nodeId, attempt: input.attempt, at: clock.now() })
        const outcome = options.outcomes[calls.length - 1] ?? { type: "ATTEMPT.SUCCEEDED", result: `ok-${calls.length}` }
        inFlight = () => sendBack(outcome)
        return () => {
          inFlight = undefined
        }
      })
    }
  })
  const actor = createActor(machine, { clock, input: { taskId: "t", deadlineMs: 1e9, ...options.input } })
  actor.start()
  let cancelledAt: number | undefined
  for (let step = 0; actor.getSnapshot().status === "active" && step < 100; step++) {
    if (options.cancelAfterCalls !== undefined && cancelledAt === undefined && calls.length >= options.cancelAfterCalls) {
      cancelledAt = clock.now()
      actor.send({ type: "CANCEL" })
    } else if (inFlight) {
      const deliver = inFlight
      inFlight = undefined
      deliver()
    } else {
      const snapshot = actor.getSnapshot()
      clock.increment(snapshot.matches({ running: "backingOff" }) ? snapshot.context.delayMs : snapshot.context.deadlineMs)
    }
  }
  const snapshot = actor.getSnapshot()
  return { calls, snapshot, output: snapshot.output!, cancelledAt, discoveries }
}

const retryable = (code = "unavailable", hintMs?: number): AttemptOutcome => ({ type: "ATTEMPT.RETRYABLE", code, httpStatus: 503, hintMs })
const capacity = (hintMs?: number): AttemptOutcome => ({ type: "ATTEMPT.CAPACITY", code: "capacity_exceeded", httpStatus: 429, hintMs })

describe("task lifecycle scenarios", () => {
  it("succeeds on the first available candidate, in directory order", () => {
    const run = drive({ candidates: nodes(3, [0]), outcomes: [] })
    expect(run.calls.map((c) => c.nodeId)).toEqual(["n1"])
    expect(run.snapshot.value).toBe("succeeded")
    expect(run.output).toEqual({ status: "succeeded", nodeId: "n1", result: "ok-1", attempts: [] })
  })

  it("no candidates (or none available) → no_candidates without an attempt", () => {
    expect(drive({ candidates: [], outcomes: [] }).output).toEqual({ status: "failed", failure: { reason: "no_candidates" } })
    const run = drive({ candidates: nodes(2, [0, 1]), outcomes: [] })
    expect(run.calls).toHaveLength(0)
    expect(run.output).toEqual({ status: "failed", failure: { reason: "no_candidates" } })
  })

  it("given candidates skip discovery", () => {
    const run = drive({ candidates: [], outcomes: [], input: { candidates: nodes(1) } })
    expect(run.discoveries).toBe(0)
    expect(run.calls.map((c) => c.nodeId)).toEqual(["n0"])
  })

  it("capacity → next node at once; retryable → after max(backoff, hint); wrap-around waits the backoff and the node's hint", () => {
    const run = drive({
      candidates: nodes(2),
      outcomes: [capacity(2_000), retryable("unavailable", 50)],
      input: { jitterSamples: [0.5, 0.5] }
    })
    expect(run.calls.map((c) => [c.nodeId, c.at])).toEqual([
      ["n0", 0],
      ["n1", 0],
      // Back at n0: backoff(2) = 400 ms, but n0 asked for 2 s.
      ["n0", 2_000]
    ])
    expect(run.snapshot.value).toBe("succeeded")
  })

  it("a hint above 30 s drops that node; a wrong node is dropped and followed at once", () => {
    const run = drive({
      candidates: nodes(3),
      outcomes: [retryable("rate_limited", TASK_MAX_HINT_MS + 1), { type: "ATTEMPT.WRONG_NODE", code: "unknown_intent", httpStatus: 404 }],
      input: { jitterSamples: [0, 0] }
    })
    expect(run.calls.map((c) => [c.nodeId, c.at])).toEqual([
      ["n0", 0],
      ["n1", 160],
      ["n2", 160]
    ])
  })

  it("three timeouts → exhausted with allTimedOut; mixed failures → not", () => {
    const timeouts = drive({ candidates: nodes(3), outcomes: [retryable("IICP-E003"), retryable("task_timeout"), retryable("IICP-E003")] })
    expect(timeouts.output).toMatchObject({ status: "failed", failure: { reason: "exhausted", allTimedOut: true } })
    const mixed = drive({ candidates: nodes(1), outcomes: [retryable("IICP-E003"), capacity(), retryable("IICP-E003")] })
    expect(mixed.output).toMatchObject({
      status: "failed",
      failure: { reason: "exhausted", allTimedOut: false, attempts: [{ code: "IICP-E003" }, { code: "capacity_exceeded" }, { code: "IICP-E003" }] }
    })
  })

  it("a terminal outcome fails at once with that attempt's error", () => {
    const run = drive({ candidates: nodes(3), outcomes: [{ type: "ATTEMPT.TERMINAL", code: "unauthorized", httpStatus: 401, error: "E" }] })
    expect(run.calls).toHaveLength(1)
    expect(run.output).toEqual({
      status: "failed",
      failure: { reason: "terminal", nodeId: "n0", error: "E", attempts: [{ nodeId: "n0", code: "unauthorized", httpStatus: 401 }] }
    })
  })

  it("the deadline spans all attempts: it fires during a back-off", () => {
    const clock = new SimulatedClock()
    const machine = taskLifecycleMachine.provide({
      actors: { submitAttempt: fromCallback<EventObject, AttemptCall>(({ sendBack }) => sendBack(retryable())) }
    })
    const actor = createActor(machine, { clock, input: { taskId: "t", deadlineMs: 100, candidates: nodes(1), jitterSamples: [0.5] } }).start()
    clock.increment(99)
    expect(actor.getSnapshot().matches({ running: "backingOff" })).toBe(true)
    clock.increment(1)
    expect(actor.getSnapshot().output).toEqual({ status: "failed", failure: { reason: "deadline", attempts: [{ nodeId: "n0", code: "unavailable", httpStatus: 503 }] } })
  })

  it("CANCEL during discovery, an attempt or a back-off lands in cancelled", () => {
    for (const after of [0, 1, 2]) {
      const run = drive({ candidates: nodes(2), outcomes: [retryable(), retryable()], cancelAfterCalls: after })
      expect(run.snapshot.value).toBe("cancelled")
      expect(run.calls).toHaveLength(after)
    }
  })

  it("backoffDelayMs follows 200 ms × 2^(n−1) × U(0.8, 1.2)", () => {
    expect([backoffDelayMs(1, 0), backoffDelayMs(1, 0.5), backoffDelayMs(2, 0.5), backoffDelayMs(2, 1)]).toEqual([160, 200, 400, 480])
  })
})

// ---------------------------------------------------------------- properties

const outcomeArb: fc.Arbitrary<AttemptOutcome> = fc.oneof(
  fc.constant<AttemptOutcome>({ type: "ATTEMPT.SUCCEEDED", result: "ok" }),
  fc.option(fc.integer({ min: 0, max: 40_000 }), { nil: undefined }).map(capacity),
  fc
    .tuple(fc.constantFrom("unavailable", "rate_limited", "IICP-E003", "IICP-E004", "task_timeout"), fc.option(fc.integer({ min: 0, max: 40_000 }), { nil: undefined }))
    .map(([code, hint]) => retryable(code, hint)),
  fc.constant<AttemptOutcome>({ type: "ATTEMPT.WRONG_NODE", code: "not_found", httpStatus: 404 }),
  fc.constant<AttemptOutcome>({ type: "ATTEMPT.TERMINAL", code: "forbidden", httpStatus: 403 }),
  fc.constant<AttemptOutcome>({ type: "ATTEMPT.SKIPPED" })
)

const scenarioArb = fc.record({
  candidates: fc.array(fc.boolean(), { maxLength: 5 }).map((avail) => nodes(avail.length, avail.flatMap((a, i) => (a ? [] : [i])))),
  outcomes: fc.array(outcomeArb, { maxLength: 8 }),
  maxAttempts: fc.integer({ min: 1, max: 3 }),
  jitterSamples: fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 2, maxLength: 2 }),
  cancelAfterCalls: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined })
})

describe("task lifecycle properties (fast-check)", () => {
  it("attempts ≤ maxAttempts ≤ 3 and exactly one final state whose output matches it", () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const run = drive({ candidates: s.candidates, outcomes: s.outcomes, input: { maxAttempts: s.maxAttempts, jitterSamples: s.jitterSamples }, ...(s.cancelAfterCalls === undefined ? {} : { cancelAfterCalls: s.cancelAfterCalls }) })
        const sentOutcomes = run.calls.map((_, i) => s.outcomes[i]).filter((o) => o?.type !== "ATTEMPT.SKIPPED")
        expect(sentOutcomes.length).toBeLessThanOrEqual(s.maxAttempts)
        expect(run.snapshot.status).toBe("done")
        expect(["succeeded", "failed", "cancelled"]).toContain(run.snapshot.value)
        expect(run.output.status).toBe(run.snapshot.value)
        // Attempt numbers count real attempts only and never exceed the bound.
        for (const call of run.calls) expect(call.attempt).toBeLessThanOrEqual(s.maxAttempts)
        // Unavailable nodes are never tried; the first try is the directory's first available node.
        const unavailable = new Set(s.candidates.filter((c) => c.available === false).map((c) => c.nodeId))
        expect(run.calls.some((c) => unavailable.has(c.nodeId))).toBe(false)
        if (run.calls[0]) expect(run.calls[0].nodeId).toBe(s.candidates.find((c) => c.available !== false)?.nodeId)
      }),
      { numRuns: 500 }
    )
  })

  it("delays: capacity and wrong-node switch at once to an untried node; retryable waits max(backoff within jitter bounds, hint ≤ 30 s)", () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const run = drive({ candidates: s.candidates, outcomes: s.outcomes, input: { maxAttempts: 3, jitterSamples: s.jitterSamples } })
        let failures = 0
        const tried = new Set<string>()
        for (let i = 1; i < run.calls.length; i++) {
          const previous = s.outcomes[i - 1]!
          const wait = run.calls[i]!.at - run.calls[i - 1]!.at
          tried.add(run.calls[i - 1]!.nodeId)
          if (previous.type !== "ATTEMPT.SKIPPED") failures += 1
          const wrapped = tried.has(run.calls[i]!.nodeId)
          if (wrapped) tried.clear()
          const hint = previous.type === "ATTEMPT.SKIPPED" || previous.type === "ATTEMPT.SUCCEEDED" ? undefined : previous.hintMs
          if (!wrapped && (previous.type === "ATTEMPT.CAPACITY" || previous.type === "ATTEMPT.WRONG_NODE" || previous.type === "ATTEMPT.SKIPPED")) {
            expect(wait).toBe(0)
          } else if (!wrapped && previous.type === "ATTEMPT.RETRYABLE") {
            const floor = 160 * 2 ** (failures - 1)
            const ceiling = 240 * 2 ** (failures - 1)
            const usableHint = hint !== undefined && hint <= TASK_MAX_HINT_MS ? hint : 0
            expect(wait).toBeGreaterThanOrEqual(Math.max(floor, usableHint))
            expect(wait).toBeLessThanOrEqual(Math.max(ceiling, usableHint))
          } else if (wrapped) {
            // Back at a node already tried: never a tight loop.
            expect(wait).toBeGreaterThanOrEqual(160 * 2 ** (failures - 1))
          }
        }
      }),
      { numRuns: 500 }
    )
  })

  it("nothing is submitted after CANCEL, and CANCEL always lands in cancelled", () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer({ min: 0, max: 3 }), (s, cancelAfter) => {
        const run = drive({ candidates: s.candidates, outcomes: s.outcomes, input: { jitterSamples: s.jitterSamples }, cancelAfterCalls: cancelAfter })
        if (run.cancelledAt === undefined) {
          // The task ended before `cancelAfter` attempts were started.
          expect(run.calls.length).toBeLessThan(cancelAfter)
          expect(run.snapshot.value).not.toBe("cancelled")
          return
        }
        expect(run.snapshot.value).toBe("cancelled")
        expect(run.calls.length).toBe(cancelAfter)
        expect(run.calls.every((c) => c.at <= run.cancelledAt!)).toBe(true)
      }),
      { numRuns: 500 }
    )
  })
})

// ---------------------------------------------------------------- paths (xstate/graph)

const PATH_EVENTS = (snapshot: Snapshot): ReadonlyArray<TaskLifecycleEvent> => {
  const timers: Array<TaskLifecycleEvent> = [
    { type: "xstate.after.taskDeadline.taskLifecycle.running" } as unknown as TaskLifecycleEvent,
    ...(snapshot.matches({ running: "backingOff" })
      ? [{ type: "xstate.after.backoff.taskLifecycle.running.backingOff" } as unknown as TaskLifecycleEvent]
      : [])
  ]
  return [
    { type: "DISCOVERY.DONE", candidates: nodes(2) },
    { type: "DISCOVERY.DONE", candidates: [] },
    { type: "DISCOVERY.FAILED", error: "down" },
    { type: "ATTEMPT.SUCCEEDED", result: "ok" },
    capacity(),
    retryable("unavailable", 500),
    { type: "ATTEMPT.WRONG_NODE", code: "not_found", httpStatus: 404 },
    { type: "ATTEMPT.TERMINAL", code: "forbidden", httpStatus: 403 },
    { type: "ATTEMPT.SKIPPED" },
    { type: "CANCEL" },
    ...timers
  ]
}

const INPUT: TaskLifecycleInput = { taskId: "t", deadlineMs: 10_000, jitterSamples: [0.5, 0.5] }

describe("task lifecycle paths (xstate/graph)", () => {
  const paths = getSimplePaths(taskLifecycleMachine, { input: INPUT, events: PATH_EVENTS })

  it("the reachable state space is finite and every path respects the attempt bound", () => {
    expect(paths.length).toBeGreaterThan(20)
    for (const path of paths) {
      expect(path.state.context.attempts.length).toBeLessThanOrEqual(3)
      for (const step of path.steps) expect(step.state.context.attempts.length).toBeLessThanOrEqual(3)
    }
  })

  it("final states are exactly succeeded, failed and cancelled, each with a matching output", () => {
    const finals = new Set<string>()
    for (const path of paths) {
      if (path.state.status !== "done") continue
      finals.add(String(path.state.value))
      expect(path.state.output?.status).toBe(path.state.value)
    }
    expect([...finals].sort()).toEqual(["cancelled", "failed", "succeeded"])
  })

  it("from every reachable non-final state, CANCEL ends in cancelled and some path reaches succeeded or failed", () => {
    for (const path of paths) {
      if (path.state.status === "done") continue
      expect(getNextSnapshot(taskLifecycleMachine, path.state, { type: "CANCEL" }).value).toBe("cancelled")
      const onward = getShortestPaths(taskLifecycleMachine, {
        fromState: path.state,
        events: PATH_EVENTS,
        toState: (s) => s.status === "done" && s.value !== "cancelled"
      })
      expect(onward.length).toBeGreaterThan(0)
    }
  })

  it("a success is only ever reached through submitting, and no state after a final one exists", () => {
    for (const path of paths) {
      const values = path.steps.map((s) => JSON.stringify(s.state.value))
      const end = values.findIndex((v) => v === '"succeeded"' || v === '"failed"' || v === '"cancelled"')
      if (end >= 0) expect(end).toBe(values.length - 1)
      if (path.state.value === "succeeded") expect(values.at(-2)).toContain("submitting")
    }
  })
})
