/** A task runner on a node's real services, driven without HTTP: for tests on the Effect clock (TestClock). */
import { Effect, Layer } from "effect"
import { Admission } from "../../src/node/admission.js"
import { NodeAuth } from "../../src/node/auth.js"
import type { NodeOptions } from "../../src/node/config.js"
import { nodeLayer } from "../../src/node/serve.js"
import type { TaskHandler } from "../../src/node/task.js"
import { makeTaskRunner } from "../../src/node/task-runner.js"
import type { TaskReply, TaskRunnerService, TaskSubmission } from "../../src/node/task-runner.js"
import { silentLogger } from "../../src/runtime/log.js"
import { CHAT } from "./helpers.js"

export const RUNNER_TOKEN = "runner-operator-token"

/** A runner for `handler` on a node's real services, plus its admission gate. */
export const runnerFor = (handler: TaskHandler, options: Partial<NodeOptions> = {}) =>
  Effect.gen(function* () {
    const runner = yield* makeTaskRunner(handler)
    return { runner, admission: yield* Admission }
  }).pipe(
    Effect.provide(
      NodeAuth.layer.pipe(Layer.provideMerge(nodeLayer({ intent: CHAT, model: "echo", operatorToken: RUNNER_TOKEN, logger: silentLogger, ...options })))
    )
  )

/** A submission of `body` as the HTTP lane would make it. */
export const submission = (body: Record<string, unknown>, authorization = `Bearer ${RUNNER_TOKEN}`): TaskSubmission => ({
  body,
  authorization,
  consumerToken: undefined,
  traceparent: undefined,
  tracestate: undefined,
  traceId: undefined,
  clientIp: "127.0.0.1",
  origin: undefined
})

/** The answer to `task`, whether the runner settled it at once or needs a fiber. */
export const run = (runner: TaskRunnerService, task: TaskSubmission): Effect.Effect<TaskReply> =>
  Effect.suspend(() => {
    const answer = runner.submit(task)
    return Effect.isEffect(answer) ? answer : Effect.succeed(answer)
  })

/** The parsed JSON body of a reply. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const replyJson = (reply: TaskReply): any => JSON.parse(reply.body.toString("utf8"))
