/** `iicp discover <intent>`: the nodes serving an intent, as a table. */
import { IicpClient } from "../../client/index.js"
import { EXIT_OK, intFlag, numberFlag, optionalString, UsageError } from "../args.js"
import { DEFAULT_DISCOVER_LIMIT, MAX_DISCOVER_LIMIT } from "../../constants.js"
import type { Command } from "../main.js"
import { table } from "../output.js"

export const discoverCommand: Command = {
  spec: {
    name: "discover",
    summary: "list the nodes serving an intent",
    usage: "iicp discover <intent> [--directory-url <url>] [--region <r>] [--model <m>] [--limit <n>] [--json]",
    flags: {
      "directory-url": { type: "string", env: "IICP_DIRECTORY_URL", value: "<url>", description: "directory to ask" },
      region: { type: "string", env: "IICP_REGION", value: "<region>", description: "preferred region" },
      model: { type: "string", env: "IICP_MODEL", value: "<name>", description: "preferred model" },
      "min-reputation": { type: "string", value: "<0..1>", description: "lowest reputation score" },
      limit: { type: "string", default: String(DEFAULT_DISCOVER_LIMIT), value: "<n>", description: `most nodes listed (1-${MAX_DISCOVER_LIMIT})` }
    },
    examples: ["iicp discover urn:iicp:intent:llm:chat:v1"]
  },
  run: async (args, out) => {
    const intent = args.positionals[0]
    if (intent === undefined) throw new UsageError("missing the intent")
    const directoryUrl = optionalString(args, "directory-url")
    const region = optionalString(args, "region")
    const model = optionalString(args, "model")
    const minReputation = numberFlag(args, "min-reputation", 0, 1)
    const client = new IicpClient(directoryUrl ? { directoryUrl } : {})
    try {
      const found = await out.waitFor("discovering", () =>
        client.discover(intent, {
          limit: intFlag(args, "limit", 1, MAX_DISCOVER_LIMIT) ?? DEFAULT_DISCOVER_LIMIT,
          ...(region ? { region } : {}),
          ...(model ? { model } : {}),
          ...(minReputation === undefined ? {} : { minReputation })
        })
      )
      if (out.json) {
        out.print(JSON.stringify(found))
        return EXIT_OK
      }
      if (found.nodes.length === 0) {
        out.print(`no node serves ${intent}`)
        return EXIT_OK
      }
      out.print(
        table(
          ["node_id", "endpoint", "region", "score", "load", "models"],
          found.nodes.map((n) => [
            n.node_id,
            n.endpoint,
            n.region || "-",
            n.score.toFixed(4),
            typeof n["load"] === "number" ? n["load"].toFixed(2) : "-",
            Array.isArray(n["models"]) ? n["models"].join(",") : "-"
          ])
        )
      )
      out.status(`${found.count} node(s), directory answered in ${found.queryMs} ms`)
      return EXIT_OK
    } finally {
      await client.close()
    }
  }
}
