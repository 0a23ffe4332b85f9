/**
 * SEC-LOG-01 / TASK-5 / DIR-RELAY-04 across the whole mesh: a directory, a node and a client all log
 * at debug into captured sinks while a task with a canary prompt is routed (with retries, a refused
 * credential and a consumer token). No payload, result, token or directory-side source IP may appear.
 */
import { describe, expect, it } from "vitest"
import { IicpClient } from "../../src/client/index.js"
import { startDirectory } from "../../src/directory/index.js"
import { echoBackend, IicpNode } from "../../src/node/index.js"
import { IicpError } from "../../src/protocol/errors.js"
import { createLogger } from "../../src/runtime/log.js"

const CANARY = "canary-7f3a9c-do-not-log"
const OPERATOR_TOKEN = "operator-token-5d1e2f-secret"

describe("nothing sensitive reaches any log", () => {
  it("payloads, results, tokens and source IPs stay out of directory, node and client logs", async () => {
    const lines = { directory: [] as string[], node: [] as string[], client: [] as string[] }
    const logger = (component: keyof typeof lines) => createLogger({ component, level: "debug", sink: (line) => lines[component].push(line) })

    const directory = await startDirectory({ port: 0, liveness: "off", logger: logger("directory") })
    const node = new IicpNode({ nodeId: "log-node", directoryUrl: directory.url, logger: logger("node") })
    const server = await node.serve(echoBackend(), { port: 0, host: "127.0.0.1", nodeToken: OPERATOR_TOKEN })
    const client = new IicpClient({ directoryUrl: directory.url, operatorToken: OPERATOR_TOKEN, logger: logger("client") })
    const intruder = new IicpClient({ directoryUrl: directory.url, operatorToken: "wrong-token", logger: logger("client") })
    try {
      while (node.registration().nodeToken === undefined) await new Promise((r) => setTimeout(r, 20))
      const nodeToken = node.registration().nodeToken!

      const answer = await client.chat([{ role: "user", content: `hello ${CANARY}` }])
      expect(answer.choices[0]?.message.content).toContain(CANARY)
      await expect(intruder.chat([{ role: "user", content: CANARY }])).rejects.toBeInstanceOf(IicpError)

      // A consumer token issued to the node's own identity, and a heartbeat with a wrong token.
      const issued = await fetch(`${directory.url}/v1/consumer-token`, {
        method: "POST",
        headers: { authorization: `Bearer ${nodeToken}`, "x-node-id": "log-node", "content-type": "application/json" },
        body: JSON.stringify({ target_node_id: "log-node", intent: "urn:iicp:intent:llm:chat:v1" })
      })
      expect(issued.status).toBe(201)
      const consumerToken = ((await issued.json()) as { token: string }).token
      const refused = await fetch(`${directory.url}/v1/heartbeat`, {
        method: "POST",
        headers: { authorization: `Bearer ${CANARY}`, "content-type": "application/json" },
        body: JSON.stringify({ node_id: "log-node" })
      })
      expect(refused.status).toBe(401)

      const all = [...lines.directory, ...lines.node, ...lines.client].join("\n")
      expect(lines.directory.length + lines.node.length).toBeGreaterThan(2)
      for (const secret of [CANARY, OPERATOR_TOKEN, nodeToken, consumerToken, "wrong-token"]) expect(all).not.toContain(secret)
      // The directory never writes raw source addresses (§6.12).
      expect(lines.directory.join("\n")).not.toContain("127.0.0.1")
    } finally {
      await client.close()
      await intruder.close()
      await server.stop()
      await directory.stop()
    }
  })
})
