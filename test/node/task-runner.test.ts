/** The task runner's plain-code path: answers without a fiber when nothing waits, and the same answers when something does. */
import { it } from "@effect/vitest"
import { Deferred, Effect, Fiber, TestClock } from "effect"
import { describe, expect } from "vitest"
import { echoBackend } from "../../src/node/index.js"
import type { HandlerContext } from "../../src/node/task.js"
import type { TaskReply } from "../../src/node/task-runner.js"
import { chatTask } from "./helpers.js"
import { replyJson as json, run, runnerFor, submission } from "./runner-helpers.js"

const settled = (answer: TaskReply | Effect.Effect<TaskReply>): TaskReply => {
  if (Effect.isEffect(answer)) throw new Error("expected an answer without waiting")
  return answer
}

describe("task runner without a fiber", () => {
  it.effect("a synchronous handler with a free slot is answered at once; the slot is free again and a retry replays the same bytes", () =>
    Effect.gen(function* () {
      const { runner, admission } = yield* runnerFor(echoBackend())
      const task = chatTask()
      const first = settled(runner.submit(submission(task)))
      expect(first.status).toBe(200)
      expect(json(first)).toMatchObject({ task_id: task["task_id"], status: "success" })
      expect((yield* admission.snapshot).active).toBe(0)
      const retry = settled(runner.submit(submission(task)))
      expect(retry.body.equals(first.body)).toBe(true)
      expect(retry.headers["x-iicp-idempotent-replay"]).toBe("true")
      // Refusals are answered at once too.
      expect(settled(runner.submit(submission(chatTask(), "Bearer wrong"))).status).toBe(401)
      expect(settled(runner.submit(submission({ ...task, payload: { other: true } }))).status).toBe(409)
    })
  )

  it.effect("a pending handler yields an Effect that holds its slot until it settles, then answers like the plain path", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const echo = echoBackend()
      const { runner, admission } = yield* runnerFor((task, context) => Effect.runPromise(Deferred.await(gate)).then(() => echo(task, context)))
      const answer = runner.submit(submission(chatTask()))
      expect(Effect.isEffect(answer)).toBe(true)
      const fiber = yield* Effect.fork(answer as Effect.Effect<TaskReply>)
      yield* Effect.yieldNow()
      expect((yield* admission.snapshot).active).toBe(1)
      yield* Deferred.succeed(gate, undefined)
      const reply = yield* Fiber.join(fiber)
      expect(reply.status).toBe(200)
      expect((yield* admission.snapshot).active).toBe(0)
    })
  )

  it.effect("interrupting a pending task frees its slot and records nothing: the same task_id runs again", () =>
    Effect.gen(function* () {
      let calls = 0
      const echo = echoBackend()
      const { runner, admission } = yield* runnerFor((task, context) => {
        calls += 1
        return calls === 1 ? new Promise(() => {}) : echo(task, context)
      })
      const task = chatTask()
      const fiber = yield* Effect.fork(run(runner, submission(task)))
      yield* Effect.yieldNow()
      expect((yield* admission.snapshot).active).toBe(1)
      yield* Fiber.interrupt(fiber)
      expect((yield* admission.snapshot).active).toBe(0)
      expect(settled(runner.submit(submission(task))).status).toBe(200)
      expect(calls).toBe(2)
    })
  )

  it.effect("with every slot held, a synchronous task queues through the gate (realtime) or is refused (batch)", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const echo = echoBackend()
      const { runner, admission } = yield* runnerFor(
        (task, context) => ((task.payload as { hold?: boolean }).hold ? Effect.runPromise(Deferred.await(gate)).then(() => echo(task, context)) : echo(task, context)),
        { maxConcurrent: 1, queueWaitMs: 2_000 }
      )
      const holder = yield* Effect.fork(run(runner, submission(chatTask({ payload: { hold: true } }))))
      yield* Effect.yieldNow()
      const batch = yield* run(runner, submission(chatTask({ constraints: { qos: "batch" } })))
      expect(batch.status).toBe(429)
      expect(json(batch).error.code).toBe("capacity_exceeded")
      const realtime = runner.submit(submission(chatTask({ constraints: { qos: "realtime" } })))
      expect(Effect.isEffect(realtime)).toBe(true)
      const waiting = yield* Effect.fork(realtime as Effect.Effect<TaskReply>)
      yield* Effect.yieldNow()
      yield* Deferred.succeed(gate, undefined)
      expect((yield* Fiber.join(holder)).status).toBe(200)
      expect((yield* Fiber.join(waiting)).status).toBe(200)
      expect((yield* admission.snapshot).active).toBe(0)
    })
  )
})

describe("handler context on the runner's clock", () => {
  it.effect("deadline is the runner clock's start + timeout_ms, and remainingMs counts down with that clock (TestClock here)", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const echo = echoBackend()
      let seen: HandlerContext | undefined
      const { runner } = yield* runnerFor((task, context) => {
        seen = context
        return Effect.runPromise(Deferred.await(gate)).then(() => echo(task, context))
      })
      yield* TestClock.adjust("10 seconds")
      const fiber = yield* Effect.fork(run(runner, submission(chatTask({ constraints: { timeout_ms: 4_000 } }))))
      yield* Effect.yieldNow()
      expect(seen!.deadline).toBe(14_000)
      expect(seen!.remainingMs()).toBe(4_000)
      yield* TestClock.adjust("1500 millis")
      expect(seen!.remainingMs()).toBe(2_500)
      yield* Deferred.succeed(gate, undefined)
      expect((yield* Fiber.join(fiber)).status).toBe(200)
      yield* TestClock.adjust("10 seconds")
      expect(seen!.remainingMs()).toBe(0)
    })
  )
})
