/** Nothing leaks (WIRE.md §3.1, §1.2): SEC-LEAK-01/02, NODE-TASK-07/08, SEC-LOG-01 / TASK-5 with a canary. */
import { randomUUID } from "node:crypto"
import { describe, expect, it } from "vitest"
import { echoBackend, TaskFailure } from "../../src/node/index.js"
import type { TaskHandler } from "../../src/node/index.js"
import { call, chatTask, startTestNode } from "./helpers.js"

const PATH_PATTERN = /\/home\/|\/Users\/|\/var\/|[A-Z]:\\\\|\bat .*\(.*:\d+:\d+\)/

describe("SEC-LEAK-01/02: no stack traces, paths or tokens in any body", () => {
  it("every failure kind answers a generic envelope", async () => {
    const operator = "operator-token-canary-51"
    const failures: Array<TaskHandler> = [
      () => {
        throw new Error(`ENOENT: /home/alice/.config/iicp/${operator}.json`)
      },
      () => Promise.reject(new TypeError("Cannot read properties of undefined at C:\\Users\\bob\\node.js:1:2")),
      () => {
        throw new TaskFailure(500, "/var/lib/secret stack")
      },
      () => {
        throw "a bare string with /Users/carol"
      },
      () => ({ error_code: 503, error_message: "/var/log/backend.log: disk full" })
    ]
    for (const handler of failures) {
      const { url, server } = await startTestNode(handler, {}, { nodeToken: operator })
      try {
        const res = await call(`${url}/v1/task`, { body: chatTask(), headers: { authorization: `Bearer ${operator}` } })
        expect(res.status).toBe(502)
        expect(res.text).not.toMatch(PATH_PATTERN)
        expect(res.text).not.toContain(operator)
        expect(res.text).not.toContain("stack")
      } finally {
        await server.stop()
      }
    }
  })
})

describe("SEC-LOG-01 / TASK-5: task content is never logged", () => {
  it("a canary in payload, result, auth and nonce appears in no log line", async () => {
    const canary = `CANARY-${randomUUID()}`
    const operator = `${canary}-operator`
    const echo = echoBackend()
    const { url, server, logs } = await startTestNode(async (task, context) => {
      if ((task.payload as { fail?: boolean }).fail) throw new Error(`failed on ${canary}`)
      return echo(task, context)
    }, {}, { nodeToken: operator })
    try {
      const content = { messages: [{ role: "user", content: `secret ${canary}` }] }
      const ok = await call(`${url}/v1/task`, {
        body: chatTask({ payload: content, nonce: canary, auth: { token: operator } })
      })
      expect(ok.status).toBe(200)
      expect(ok.text).toContain(canary)
      await call(`${url}/v1/task`, { body: chatTask({ payload: { ...content, fail: true }, auth: { token: operator } }) })
      await call(`${url}/v1/task`, { body: chatTask({ payload: content, auth: { token: `${canary}-wrong` } }) })
      await call(`${url}/v1/task`, { body: chatTask({ payload: content, intent: `urn:iicp:intent:${canary.toLowerCase()}:v1` }) })
    } finally {
      await server.stop()
    }
    expect(logs.length).toBeGreaterThan(0)
    expect(logs.some((line) => line.includes("task finished"))).toBe(true)
    for (const line of logs) expect(line.toLowerCase()).not.toContain(canary.toLowerCase())
  })
})
