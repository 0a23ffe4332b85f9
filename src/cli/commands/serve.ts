/** `iicp serve`: a provider node with the echo or an OpenAI-compatible backend, until Ctrl-C. */
import { DEFAULT_NODE_HTTP_PORT, NODE_DEFAULT_MAX_CONCURRENT } from "../../constants.js"
import { startNode } from "../../node/index.js"
import type { AccessMode, BackendChoice } from "../../node/index.js"
import { CHAT_INTENT } from "../../protocol/urn.js"
import { choiceFlag, EXIT_OK, intFlag, optionalString, UsageError } from "../args.js"
import type { ParsedArgs } from "../args.js"
import { createLogger, LOG_LEVELS } from "../../runtime/log.js"
import type { Command } from "../main.js"
import { defaultStateDir, loadOrCreateNodeId } from "../node-identity.js"
import { untilSignal } from "../signals.js"

/** The largest `--max-concurrent` accepted: a sanity bound on a typo, not a protocol limit. */
const MAX_CLI_MAX_CONCURRENT = 100_000

const BACKENDS = ["echo", "openai", "openai_compat", "vllm", "llamacpp"] as const
const ACCESS_MODES = ["open", "token", "token+consumer"] as const

const backendOf = (args: ParsedArgs): BackendChoice => {
  const backend = choiceFlag(args, "backend", BACKENDS) ?? "echo"
  const baseUrl = optionalString(args, "backend-url")
  const apiKey = optionalString(args, "api-key")
  const model = optionalString(args, "model")
  if (backend === "echo") {
    if (baseUrl) throw new UsageError("--backend-url needs --backend openai, vllm or llamacpp")
    return { type: "echo" }
  }
  return {
    type: backend === "openai" ? "openai_compat" : backend,
    ...(baseUrl ? { baseUrl } : {}),
    ...(apiKey ? { apiKey } : {}),
    ...(model ? { model } : {})
  }
}

export const serveCommand: Command = {
  spec: {
    name: "serve",
    summary: "serve an intent to the mesh as a provider node",
    usage: "iicp serve [--intent <urn>] [--model <name>] [--backend echo|openai|vllm|llamacpp] [--backend-url <url>] [--port <n>] [--directory-url <url>] [--access open|token|token+consumer]",
    flags: {
      intent: { type: "string", env: "IICP_INTENT", default: CHAT_INTENT, value: "<urn>", description: "intent served" },
      model: { type: "string", env: "IICP_MODEL", value: "<name>", description: "model advertised and sent to the backend (echo: 'echo')" },
      backend: { type: "string", env: "IICP_BACKEND", default: "echo", value: "<kind>", description: "echo (demo), openai (Ollama), vllm or llamacpp" },
      "backend-url": { type: "string", env: "IICP_BACKEND_URL", value: "<url>", description: "OpenAI-compatible base URL including /v1" },
      "api-key": { type: "string", env: "IICP_BACKEND_API_KEY", value: "<key>", description: "backend API key (sent as Bearer, never logged)" },
      port: { type: "string", env: "IICP_PORT", default: String(DEFAULT_NODE_HTTP_PORT), value: "<n>", description: "HTTP port (0 = any free port)" },
      host: { type: "string", env: "IICP_HOST", default: "127.0.0.1", value: "<addr>", description: "bind address (0.0.0.0 to serve the network)" },
      endpoint: { type: "string", env: "IICP_ENDPOINT", value: "<url>", description: "URL clients reach this node at (default: the bound URL)" },
      "directory-url": { type: "string", env: "IICP_DIRECTORY_URL", value: "<url>", description: "directory to register with (none: serve only)" },
      access: { type: "string", env: "IICP_ACCESS", value: "<mode>", description: "open, token or token+consumer (default: token when --node-token is set)" },
      "node-token": { type: "string", env: "IICP_NODE_TOKEN", value: "<token>", description: "operator token clients must present" },
      "node-id": { type: "string", env: "IICP_NODE_ID", value: "<id>", description: "node id (default: the one kept in the state dir, created on first start)" },
      "state-dir": { type: "string", env: "IICP_STATE_DIR", value: "<dir>", description: "where the node keeps its id across restarts (default ~/.iicp)" },
      region: { type: "string", env: "IICP_REGION", value: "<region>", description: "region advertised" },
      "max-concurrent": { type: "string", env: "IICP_MAX_CONCURRENT", default: String(NODE_DEFAULT_MAX_CONCURRENT), value: "<n>", description: "tasks run at once" },
      "log-level": { type: "string", env: "IICP_LOG_LEVEL", default: "info", value: "<level>", description: "debug, info, warn, error or silent" }
    },
    examples: [
      "iicp serve --directory-url http://127.0.0.1:8090",
      "iicp serve --backend openai --backend-url http://localhost:11434/v1 --model qwen2.5:0.5b --directory-url http://127.0.0.1:8090"
    ]
  },
  run: async (args, out) => {
    // Listen for Ctrl-C/SIGTERM before anything starts, so a stop during start-up is not lost.
    const stopRequested = untilSignal()
    const access = choiceFlag(args, "access", ACCESS_MODES) as AccessMode | undefined
    const directoryUrl = optionalString(args, "directory-url")
    const endpoint = optionalString(args, "endpoint")
    const nodeToken = optionalString(args, "node-token")
    const nodeId = optionalString(args, "node-id") ?? loadOrCreateNodeId(optionalString(args, "state-dir") ?? defaultStateDir())
    const region = optionalString(args, "region")
    const model = optionalString(args, "model")
    const { node, server } = await startNode({
      backend: backendOf(args),
      intent: optionalString(args, "intent") ?? CHAT_INTENT,
      port: intFlag(args, "port", 0, 65535) ?? DEFAULT_NODE_HTTP_PORT,
      host: optionalString(args, "host") ?? "127.0.0.1",
      maxConcurrent: intFlag(args, "max-concurrent", 0, MAX_CLI_MAX_CONCURRENT) ?? NODE_DEFAULT_MAX_CONCURRENT,
      logger: createLogger({ component: "node", level: choiceFlag(args, "log-level", LOG_LEVELS) ?? "info" }),
      ...(model ? { model } : {}),
      ...(access ? { access } : {}),
      ...(directoryUrl ? { directoryUrl } : {}),
      ...(endpoint ? { endpoint } : {}),
      ...(nodeToken ? { nodeToken } : {}),
      nodeId,
      ...(region ? { region } : {})
    })
    if (out.json) out.print(JSON.stringify({ node_id: node.nodeId, url: server.url, port: server.port }))
    else out.print(`node ${node.nodeId} serving on ${server.url}${directoryUrl ? `, registering with ${directoryUrl}` : ""}`)
    const signal = await stopRequested
    out.status(`${signal}: draining and deregistering`)
    await server.stop()
    return EXIT_OK
  }
}
