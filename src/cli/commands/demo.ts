/**
 * `iicp demo` (what `npm start` runs): bring a local mesh up, route chats, kill the node that is
 * serving mid-run to show failover, print a summary and exit 0 when every chat was answered.
 */
import { IicpClient } from "../../client/index.js"
import { IicpError } from "../../protocol/errors.js"
import { EXIT_FAILURE, EXIT_OK, intFlag } from "../args.js"
import { startLocalMesh } from "../local-mesh.js"
import type { Command } from "../main.js"
import { table } from "../output.js"
import { stateTrail } from "./chat.js"
import { DEFAULT_LOCAL_NODES } from "./up.js"

/** Chats routed by the demo; the serving node is killed after half of them. */
const DEFAULT_DEMO_CHATS = 6
/** The demo's per-chat deadline: generous for a loaded laptop, short enough to show a stuck node. */
const DEMO_CHAT_TIMEOUT_MS = 10_000

interface ChatRow {
  readonly n: number
  readonly prompt: string
  readonly nodeId: string
  readonly attempts: number
  readonly latencyMs: number
  readonly answer: string
  readonly states: ReadonlyArray<string>
}

export const demoCommand: Command = {
  spec: {
    name: "demo",
    summary: "run a local mesh, route chats, kill a node to show failover, print a summary",
    usage: "iicp demo [--nodes <n>] [--chats <n>] [--json]",
    flags: {
      nodes: { type: "string", env: "IICP_NODES", default: String(DEFAULT_LOCAL_NODES), value: "<n>", description: "echo provider nodes (2-16)" },
      chats: { type: "string", default: String(DEFAULT_DEMO_CHATS), value: "<n>", description: "chats to route (2-100)" }
    }
  },
  run: async (args, out) => {
    const nodeCount = intFlag(args, "nodes", 2, 16) ?? DEFAULT_LOCAL_NODES
    const chats = intFlag(args, "chats", 2, 100) ?? DEFAULT_DEMO_CHATS
    const mesh = await out.waitFor(`starting a directory and ${nodeCount} echo nodes on loopback`, () => startLocalMesh({ nodeCount }))
    out.status(`directory ${mesh.directory.url}; nodes ${mesh.nodes.map((n) => n.nodeId).join(", ")}`)
    // Chats run one at a time, so one client-wide observer can hand each chat's events to its own trail.
    let trail = stateTrail()
    const client = new IicpClient({ directoryUrl: mesh.directory.url, timeoutMs: DEMO_CHAT_TIMEOUT_MS, inspect: (event) => trail.inspect(event) })
    const rows: Array<ChatRow> = []
    const failures: Array<string> = []
    let killed: string | undefined
    try {
      for (let n = 1; n <= chats; n++) {
        if (n === Math.floor(chats / 2) + 1 && rows.length > 0) {
          killed = rows[rows.length - 1]!.nodeId
          await mesh.kill(killed)
          out.status(`killed ${killed} (SIGKILL: no drain, no deregistration) — the directory still lists it`)
        }
        const prompt = `demo chat ${n}: what routes by intent?`
        trail = stateTrail()
        const started = performance.now()
        try {
          const answer = await client.chat([{ role: "user", content: prompt }])
          const row: ChatRow = {
            n,
            prompt,
            nodeId: answer.node_id,
            attempts: trail.attempts(),
            latencyMs: Math.round(performance.now() - started),
            answer: answer.choices[0]?.message.content ?? "",
            states: trail.states
          }
          rows.push(row)
          out.status(`chat ${n}: ${row.nodeId} answered in ${row.latencyMs} ms after ${row.attempts} attempt(s)`)
        } catch (error) {
          failures.push(error instanceof IicpError ? `[${error.code}] ${error.message}` : String(error))
          out.status(`chat ${n}: failed ${failures[failures.length - 1]}`)
        }
      }
    } finally {
      await client.close()
      await out.waitFor("stopping the mesh", () => mesh.stop())
    }
    const failedOver = rows.filter((r) => r.attempts > 1).length
    if (out.json) {
      out.print(JSON.stringify({ directory_url: mesh.directory.url, killed, chats: rows, failures, failed_over: failedOver }))
    } else {
      out.print("")
      out.print(table(["#", "node", "attempts", "latency ms", "answer"], rows.map((r) => [r.n, r.nodeId, r.attempts, r.latencyMs, r.answer.slice(0, 60)])))
      out.print("")
      out.print(
        `${rows.length}/${chats} chats answered; ${killed ? `${killed} was killed mid-run and ${failedOver} chat(s) failed over to another node` : "no node was killed"}.`
      )
    }
    return failures.length === 0 ? EXIT_OK : EXIT_FAILURE
  }
}
