/**
 * End to end over real processes and sockets: our client → our directory → two of our nodes (child
 * processes of the built CLI); one node is SIGKILLed and the client fails over to the other.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { IicpClient } from "../../src/client/index.js"
import { startDirectory } from "../../src/directory/index.js"
import type { DirectoryHandle } from "../../src/directory/index.js"
import { CHAT_INTENT } from "../../src/protocol/urn.js"
import { silentLogger } from "../../src/runtime/log.js"
import { ensureBuilt, startCli } from "../support/built-cli.js"
import type { CliServer } from "../support/built-cli.js"

type NodeReady = { node_id: string; url: string }

describe("client → directory → two nodes, one killed", () => {
  let directory: DirectoryHandle
  const nodes: Array<CliServer<NodeReady>> = []

  beforeAll(async () => {
    ensureBuilt()
    directory = await startDirectory({ port: 0, mode: "local", logger: silentLogger })
    for (const id of ["e2e-node-a", "e2e-node-b"]) {
      nodes.push(await startCli<NodeReady>(["serve", "--port", "0", "--directory-url", directory.url, "--node-id", id, "--log-level", "warn"]))
    }
  }, 120_000)

  afterAll(async () => {
    for (const node of nodes) node.child.kill("SIGKILL")
    await directory?.stop()
  })

  it("routes, then fails over when the serving node dies without deregistering", async () => {
    const client = new IicpClient({ directoryUrl: directory.url, timeoutMs: 10_000 })
    try {
      // New nodes are listed once the local directory has probed their health.
      let listed = 0
      for (let i = 0; i < 120 && listed < 2; i++) {
        const probe = new IicpClient({ directoryUrl: directory.url })
        listed = (await probe.discover(CHAT_INTENT)).nodes.length
        await probe.close()
        if (listed < 2) await new Promise((r) => setTimeout(r, 100))
      }
      expect(listed).toBe(2)

      const payload = { messages: [{ role: "user" as const, content: "first" }] }
      const first = await client.submit({ intent: CHAT_INTENT, payload })
      expect(first).toMatchObject({ status: "success", attempts: 1 })
      const served = nodes.find((n) => n.ready.node_id === first.node_id)!
      const other = nodes.find((n) => n !== served)!

      served.child.kill("SIGKILL")
      await served.exited

      // The directory still lists the dead node (no deregistration); the client's cached discovery does too.
      const second = await client.submit({ intent: CHAT_INTENT, payload: { messages: [{ role: "user", content: "second" }] } })
      expect(second.status).toBe("success")
      expect(second.node_id).toBe(other.ready.node_id)
      // Equal scores sort by node_id, so the dead node is still tried first: one failed attempt, then the other node.
      expect(second.attempts).toBe(2)
      const chat = await client.chat([{ role: "user", content: "third" }])
      expect(chat.node_id).toBe(other.ready.node_id)
      expect(chat.choices[0]?.message.content).toContain("third")
    } finally {
      await client.close()
    }
  })
})
