/** The task runner's plain-code path: answers without a fiber when nothing waits, and the same answers when something does. */
import { it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer } from "effect"
import { describe, expect } from "vitest"
import { Admission } from "../../src/node/admission.js"
import { NodeAuth } from "../../src/node/auth.js"
import type { NodeOptions } from "../../src/node/config.js"
import { echoBackend } from "../../src/node/index.js"
import { nodeLayer } from "../../src/node/serve.js"
import type { TaskHandler } from "../../src/node/task.js"
import { makeTaskRunner } from "../../src/node/task-runner.js"
import type { TaskReply, TaskSubmission } from "../../src/node/task-runner.js"
import { silentLogger } from "../../src/runtime/log.js"
import { CHAT, chatTask } from "./helpers.js"

const TOKEN = "runner-operator-token"

/** A runner for `handler` on a node's real services, plus its admission gate. */
const runnerFor = (handler: TaskHandler, options: Partial<NodeOptions> = {}) =>
  Effect.gen(function* () {
    const runner = yield* makeTaskRunner(handler)
    return { runner, admission: yield* Admission }
  }).pipe(
    Effect.provide(
      NodeAuth.layer.pipe(Layer.provideMerge(nodeLayer({ intent: CHAT, model: "echo", operatorToken: TOKEN, logger: silentLogger, ...options })))
    )
  )

const submission = (body: Record<string, unknown>, authorization = `Bearer ${TOKEN}`): TaskSubmission => ({
  body,
  authorization,
  consumerToken: undefined,
  traceparent: undefined,
  tracestate: undefined,
  traceId: undefined,
  clientIp: "127.0.0.1",
  origin: undefined
})

const settled = (answer: TaskReply | Effect.Effect<TaskReply>): TaskReply => {
  if (Effect.isEffect(answer)) throw new Error("expected an answer without waiting")
  return answer
}

const json = (reply: TaskReply) => JSON.parse(reply.body.toString("utf8"))

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
      const fiber = yield* Effect.fork(runner.run(submission(task)))
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
      const holder = yield* Effect.fork(runner.run(submission(chatTask({ payload: { hold: true } }))))
      yield* Effect.yieldNow()
      const batch = yield* runner.run(submission(chatTask({ constraints: { qos: "batch" } })))
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
