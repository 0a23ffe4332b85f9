/**
 * A whole mesh on loopback for `iicp up` and `iicp demo`: an embedded directory in this process and
 * N echo provider nodes as child processes of this CLI (real processes, so one can really be killed).
 */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { Duration, Effect, Schedule } from "effect"
import { startDirectory } from "../directory/index.js"
import type { DirectoryHandle } from "../directory/index.js"
import { createAgent, httpJson } from "../runtime/http-client.js"
import { MAX_DISCOVER_LIMIT } from "../constants.js"
import { CHAT_INTENT } from "../protocol/urn.js"
import { createLogger } from "../runtime/log.js"
import type { LogLevel } from "../runtime/log.js"

/** How long a node process may take to print that it listens. */
const NODE_START_TIMEOUT_MS = 15_000
/** How long until every node is discoverable (the local directory probes new nodes' health first). */
const MESH_READY_TIMEOUT_MS = 30_000
const MESH_READY_POLL_MS = 250
/** How long a node may drain and deregister after SIGTERM before it is killed. */
const NODE_STOP_TIMEOUT_MS = 12_000
/** Timeout of one readiness poll of the directory. */
const MESH_READY_POLL_TIMEOUT_MS = 2_000
/** Lines of a node's stderr kept to explain a failed start. */
const STDERR_TAIL_LINES = 20

/** One node process of the mesh. */
export interface MeshNode {
  readonly nodeId: string
  readonly url: string
  readonly process: ChildProcess
}

/** A running local mesh. */
export interface LocalMesh {
  readonly directory: DirectoryHandle
  readonly nodes: ReadonlyArray<MeshNode>
  /** Kills one node abruptly (SIGKILL): no drain, no deregistration, as a crash. */
  readonly kill: (nodeId: string) => Promise<void>
  /** Stops every node (drain + deregister) and the directory. */
  readonly stop: () => Promise<void>
}

const cliEntry = fileURLToPath(new URL("./main.js", import.meta.url))

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once("exit", () => resolve()))

const startNodeProcess = (directoryUrl: string, nodeId: string, logLevel: LogLevel): Promise<MeshNode> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [cliEntry, "serve", "--backend", "echo", "--port", "0", "--directory-url", directoryUrl, "--node-id", nodeId, "--region", "local", "--log-level", logLevel, "--json"],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    const tail: Array<string> = []
    createInterface({ input: child.stderr! }).on("line", (line) => {
      tail.push(line)
      if (tail.length > STDERR_TAIL_LINES) tail.shift()
    })
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`node ${nodeId} did not start within ${NODE_START_TIMEOUT_MS} ms`))
    }, NODE_START_TIMEOUT_MS)
    const lines = createInterface({ input: child.stdout! })
    lines.once("line", (line) => {
      clearTimeout(timer)
      try {
        const ready = JSON.parse(line) as { node_id: string; url: string }
        resolve({ nodeId: ready.node_id, url: ready.url, process: child })
      } catch {
        child.kill("SIGKILL")
        reject(new Error(`node ${nodeId} printed no address`))
      }
    })
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`node ${nodeId} exited (${code ?? "signal"}): ${tail.join(" | ") || "no output"}`))
    })
  })

/** Resolves once discover lists `count` nodes for the chat intent; rejects after the ready timeout. */
const waitForNodes = (directoryUrl: string, count: number): Promise<void> => {
  const agent = createAgent()
  const check = httpJson(agent, { method: "GET", url: `${directoryUrl}/v1/discover?intent=${encodeURIComponent(CHAT_INTENT)}&limit=${MAX_DISCOVER_LIMIT}`, timeoutMs: MESH_READY_POLL_TIMEOUT_MS }).pipe(
    Effect.flatMap((res) => {
      const nodes = (res.body as { nodes?: Array<unknown> } | undefined)?.nodes
      return Array.isArray(nodes) && nodes.length >= count ? Effect.void : Effect.fail("not yet" as const)
    })
  )
  return Effect.runPromise(
    check.pipe(
      Effect.retry(Schedule.spaced(Duration.millis(MESH_READY_POLL_MS))),
      Effect.timeoutFail({ duration: Duration.millis(MESH_READY_TIMEOUT_MS), onTimeout: () => new Error(`nodes not discoverable within ${MESH_READY_TIMEOUT_MS} ms`) }),
      Effect.ensuring(Effect.promise(() => agent.close()))
    )
  )
}

const stopNode = async (node: MeshNode): Promise<void> => {
  if (node.process.exitCode !== null || node.process.signalCode !== null) return
  node.process.kill("SIGTERM")
  const timer = setTimeout(() => node.process.kill("SIGKILL"), NODE_STOP_TIMEOUT_MS)
  await exited(node.process)
  clearTimeout(timer)
}

/** Starts a directory and `nodeCount` echo nodes on loopback and waits until all are discoverable. */
export const startLocalMesh = async (options: {
  readonly nodeCount: number
  readonly directoryPort?: number
  /** Log level of the directory and the nodes; default `warn`. */
  readonly logLevel?: LogLevel
}): Promise<LocalMesh> => {
  const directory = await startDirectory({
    port: options.directoryPort ?? 0,
    host: "127.0.0.1",
    mode: "local",
    logger: createLogger({ component: "directory", level: options.logLevel ?? "warn" })
  })
  const started = await Promise.allSettled(
    Array.from({ length: options.nodeCount }, (_, i) => startNodeProcess(directory.url, `local-node-${i + 1}`, options.logLevel ?? "warn"))
  )
  const nodes = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []))
  const stop = async () => {
    await Promise.all(nodes.map(stopNode))
    await directory.stop()
  }
  const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected")
  if (failed) {
    await stop()
    throw failed.reason
  }
  try {
    await waitForNodes(directory.url, nodes.length)
  } catch (error) {
    await stop()
    throw error
  }
  return {
    directory,
    nodes,
    stop,
    kill: async (nodeId) => {
      const node = nodes.find((n) => n.nodeId === nodeId)
      if (!node) return
      node.process.kill("SIGKILL")
      await exited(node.process)
    }
  }
}
