/** `iicp up`: a directory and N echo providers on loopback until Ctrl-C. */
import { EXIT_OK, intFlag } from "../args.js"
import { startLocalMesh } from "../local-mesh.js"
import type { Command } from "../main.js"
import { table } from "../output.js"
import { untilSignal } from "../signals.js"

/** Nodes `iicp up` and `iicp demo` start by default. */
export const DEFAULT_LOCAL_NODES = 3

export const upCommand: Command = {
  spec: {
    name: "up",
    summary: "run a local mesh: embedded directory + N echo providers on loopback",
    usage: "iicp up [--nodes <n>] [--port <directory port>]",
    flags: {
      nodes: { type: "string", env: "IICP_NODES", default: String(DEFAULT_LOCAL_NODES), value: "<n>", description: "echo provider nodes (1-16)" },
      port: { type: "string", env: "IICP_DIRECTORY_PORT", default: "0", value: "<n>", description: "directory port (0 = any free port)" }
    },
    examples: ["iicp up --nodes 3", 'IICP_DIRECTORY_URL=<printed url> iicp chat "hello"']
  },
  run: async (args, out) => {
    // Listen for Ctrl-C/SIGTERM before anything starts, so a stop during start-up is not lost.
    const stopRequested = untilSignal()
    const nodeCount = intFlag(args, "nodes", 1, 16) ?? DEFAULT_LOCAL_NODES
    const mesh = await out.waitFor(`starting a directory and ${nodeCount} node(s)`, () =>
      startLocalMesh({ nodeCount, directoryPort: intFlag(args, "port", 0, 65535) ?? 0 })
    )
    if (out.json) {
      out.print(JSON.stringify({ directory_url: mesh.directory.url, nodes: mesh.nodes.map((n) => ({ node_id: n.nodeId, url: n.url })) }))
    } else {
      out.print(`directory  ${mesh.directory.url}`)
      out.print(table(["node", "url"], mesh.nodes.map((n) => [n.nodeId, n.url])))
      out.print("")
      out.print(`export IICP_DIRECTORY_URL=${mesh.directory.url}`)
      out.print(`iicp chat "hello mesh" --verbose     # route a chat`)
      out.print(`iicp discover urn:iicp:intent:llm:chat:v1`)
      out.status("Ctrl-C stops the mesh.")
    }
    const signal = await stopRequested
    await out.waitFor(`${signal}: stopping nodes and directory`, () => mesh.stop())
    return EXIT_OK
  }
}
