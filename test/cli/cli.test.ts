/** The built `iicp` binary as a user runs it: exit codes, help, usage errors, and a real mesh of processes. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { CHAT_INTENT } from "../../src/protocol/urn.js"
import { ensureBuilt, runCli, startCli } from "../support/built-cli.js"

beforeAll(() => ensureBuilt(), 120_000)

const COMMANDS = ["directory", "serve", "chat", "discover", "up", "demo"]

describe("iicp conventions", () => {
  it("prints the command list on --help and exits 0; with no command exits 2", async () => {
    const help = await runCli(["--help"])
    expect(help.code).toBe(0)
    for (const name of COMMANDS) expect(help.stdout).toContain(name)
    expect((await runCli([])).code).toBe(2)
  })

  it.each(COMMANDS)("%s --help shows its usage and options and exits 0", async (name) => {
    const run = await runCli([name, "--help"])
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(new RegExp(`^Usage: iicp ${name}`))
    expect(run.stdout).toContain("--json")
  })

  it("bad flags exit 2 with one error line and the usage line", async () => {
    const run = await runCli(["serve", "--no-such-flag"])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/^iicp serve: .*no-such-flag/)
    expect(run.stderr).toMatch(/\nUsage: iicp serve/)
    const badValue = await runCli(["demo", "--nodes", "many"])
    expect(badValue.code).toBe(2)
    expect(badValue.stderr).toContain("--nodes must be an integer")
    expect((await runCli(["chat"])).code).toBe(2)
    expect((await runCli(["teleport"])).code).toBe(2)
  })

  it("a failure is one clear line and exit 1 (directory unreachable)", async () => {
    const run = await runCli(["chat", "hello", "--directory-url", "http://127.0.0.1:9"])
    expect(run.code).toBe(1)
    const lines = run.stderr.trim().split("\n").filter((l) => l.startsWith("iicp chat:"))
    expect(lines).toHaveLength(1)
    expect(run.stderr).not.toMatch(/\bat .*\.(js|ts):\d+/)
  })
})

describe("iicp serve identity", () => {
  it("keeps the node id in the state dir across restarts (WIRE §2.4)", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "iicp-state-"))
    try {
      const ids: Array<string> = []
      for (let start = 0; start < 2; start++) {
        const node = await startCli<{ node_id: string }>(["serve", "--port", "0", "--state-dir", stateDir, "--log-level", "silent"])
        ids.push(node.ready.node_id)
        node.child.kill("SIGTERM")
        expect(await node.exited).toBe(0)
      }
      expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      expect(ids[1]).toBe(ids[0])
      expect(readFileSync(join(stateDir, "node-id"), "utf8").trim()).toBe(ids[0])
    } finally {
      rmSync(stateDir, { recursive: true, force: true })
    }
  })
})

describe("iicp processes form a mesh", () => {
  it("directory + serve + discover + chat (flags and IICP_* environment), then clean shutdown", async () => {
    const directory = await startCli<{ url: string }>(["directory", "--port", "0", "--log-level", "warn"])
    const node = await startCli<{ node_id: string; url: string }>([
      "serve", "--port", "0", "--directory-url", directory.ready.url, "--node-id", "cli-node-1", "--log-level", "warn"
    ])
    try {
      expect(node.ready.node_id).toBe("cli-node-1")
      // The local directory probes a new node's health before listing it: poll discover until listed.
      let listed = ""
      for (let i = 0; i < 60 && !listed.includes("cli-node-1"); i++) {
        listed = (await runCli(["discover", CHAT_INTENT], { IICP_DIRECTORY_URL: directory.ready.url })).stdout
        if (!listed.includes("cli-node-1")) await new Promise((r) => setTimeout(r, 250))
      }
      expect(listed).toMatch(/node_id\s+endpoint/)
      expect(listed).toContain(node.ready.url)

      const chat = await runCli(["chat", "ping through the mesh", "--verbose"], { IICP_DIRECTORY_URL: directory.ready.url })
      expect(chat.code).toBe(0)
      expect(chat.stdout).toContain("ping through the mesh")
      expect(chat.stderr).toMatch(/route: node cli-node-1, 1 attempt/)
      expect(chat.stderr).toMatch(/states: .*submitting.*succeeded/)

      const json = await runCli(["chat", "json please", "--json", "--directory-url", directory.ready.url])
      const parsed = JSON.parse(json.stdout)
      expect(parsed.choices[0].message.content).toContain("json please")
      expect(parsed.route).toMatchObject({ node_id: "cli-node-1", attempts: 1 })
    } finally {
      node.child.kill("SIGTERM")
      directory.child.kill("SIGTERM")
    }
    expect(await node.exited).toBe(0)
    expect(await directory.exited).toBe(0)
  })

  it("up brings a mesh up, serves chats, and Ctrl-C (SIGINT) stops every node and exits 0", async () => {
    const up = await startCli<{ directory_url: string; nodes: Array<{ node_id: string; url: string }> }>(["up", "--nodes", "2"], 60_000)
    try {
      expect(up.ready.nodes.map((n) => n.node_id)).toEqual(["local-node-1", "local-node-2"])
      const chat = await runCli(["chat", "via up", "--json"], { IICP_DIRECTORY_URL: up.ready.directory_url })
      expect(chat.code, chat.stderr).toBe(0)
      expect(JSON.parse(chat.stdout).node_id).toMatch(/^local-node-[12]$/)
    } finally {
      up.child.kill("SIGINT")
    }
    expect(await up.exited).toBe(0)
    // The nodes were drained and closed: their ports no longer answer.
    for (const node of up.ready.nodes) await expect(fetch(`${node.url}/iicp/health`)).rejects.toThrow()
  })

  it("demo routes chats, survives a killed node and exits 0", async () => {
    const run = await runCli(["demo", "--json"], {}, 90_000)
    expect(run.code, run.stderr).toBe(0)
    const summary = JSON.parse(run.stdout)
    expect(summary.failures).toEqual([])
    expect(summary.chats).toHaveLength(6)
    expect(summary.killed).toMatch(/^local-node-/)
    for (const chat of summary.chats) expect(chat.answer).toContain(`demo chat ${chat.n}`)
    const afterKill = summary.chats.slice(3)
    expect(afterKill.every((c: { nodeId: string }) => c.nodeId !== summary.killed)).toBe(true)
    expect(summary.failed_over).toBeGreaterThanOrEqual(1)
  })
})
