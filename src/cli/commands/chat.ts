/** `iicp chat "prompt"`: routes one chat through the mesh and prints the answer. */
import type { InspectionEvent } from "xstate"
import { IicpClient } from "../../client/index.js"
import { leafState, onRootState } from "../../runtime/inspector.js"
import { EXIT_OK, intFlag, optionalString, UsageError } from "../args.js"
import { MAX_CLIENT_TIMEOUT_MS, MIN_CLIENT_TASK_TIMEOUT_MS } from "../../constants.js"
import type { Command } from "../main.js"

/** A record of the task machine's states in the order a task went through them, fed by inspection events. */
export interface StateTrail {
  readonly inspect: (event: InspectionEvent) => void
  readonly states: ReadonlyArray<string>
  /** Submit attempts made: entries into `submitting`. */
  readonly attempts: () => number
}

/** A new, empty {@link StateTrail}. */
export const stateTrail = (): StateTrail => {
  const states: Array<string> = []
  return {
    states,
    attempts: () => states.filter((s) => s === "submitting").length,
    inspect: onRootState((state) => states.push(leafState(state)))
  }
}

export const chatCommand: Command = {
  spec: {
    name: "chat",
    summary: "route one chat through the mesh and print the answer",
    usage: 'iicp chat "<prompt>" [--directory-url <url>] [--model <name>] [--json] [--verbose]',
    flags: {
      "directory-url": { type: "string", env: "IICP_DIRECTORY_URL", value: "<url>", description: "directory to discover nodes at" },
      model: { type: "string", env: "IICP_MODEL", value: "<name>", description: "model to ask for" },
      system: { type: "string", value: "<text>", description: "a system message before the prompt" },
      "timeout-ms": { type: "string", env: "IICP_TIMEOUT_MS", value: "<ms>", description: `deadline across all attempts (${MIN_CLIENT_TASK_TIMEOUT_MS}-${MAX_CLIENT_TIMEOUT_MS})` },
      "node-token": { type: "string", env: "IICP_NODE_TOKEN", value: "<token>", description: "operator token presented to nodes" },
      verbose: { type: "boolean", short: "v", description: "also print the route: node, attempts, latency, machine states" }
    },
    examples: ['iicp chat "What is IICP?" --directory-url http://127.0.0.1:8090', 'iicp chat "hi" --json']
  },
  run: async (args, out) => {
    const prompt = args.positionals.join(" ").trim()
    if (prompt === "") throw new UsageError("missing the prompt")
    const directoryUrl = optionalString(args, "directory-url")
    const operatorToken = optionalString(args, "node-token")
    const timeoutMs = intFlag(args, "timeout-ms", MIN_CLIENT_TASK_TIMEOUT_MS, MAX_CLIENT_TIMEOUT_MS)
    const model = optionalString(args, "model")
    const system = optionalString(args, "system")
    const trail = stateTrail()
    const client = new IicpClient({
      ...(directoryUrl ? { directoryUrl } : {}),
      ...(operatorToken ? { operatorToken } : {}),
      ...(timeoutMs ? { timeoutMs } : {}),
      inspect: trail.inspect
    })
    const started = performance.now()
    try {
      const answer = await out.waitFor("routing chat", () =>
        client.chat([...(system ? [{ role: "system" as const, content: system }] : []), { role: "user", content: prompt }], {
          ...(model ? { model } : {})
        })
      )
      const latencyMs = Math.round(performance.now() - started)
      const attempts = trail.attempts()
      if (out.json) {
        out.print(JSON.stringify({ ...answer, route: { node_id: answer.node_id, attempts, latency_ms: latencyMs, states: trail.states } }))
        return EXIT_OK
      }
      out.print(answer.choices[0]?.message.content ?? "")
      if (args.flags["verbose"] === true) {
        out.status(`route: node ${answer.node_id}, ${attempts} attempt(s), ${latencyMs} ms, model ${answer.model || "-"}`)
        out.status(`states: ${trail.states.join(" → ")}`)
      }
      return EXIT_OK
    } finally {
      await client.close()
    }
  }
}
