/** `iicp directory`: an embedded directory until Ctrl-C. */
import { DEFAULT_DIRECTORY_PORT } from "../../constants.js"
import { startDirectory } from "../../directory/index.js"
import { choiceFlag, EXIT_OK, intFlag, optionalString } from "../args.js"
import { createLogger, LOG_LEVELS } from "../../runtime/log.js"
import type { Command } from "../main.js"
import { untilSignal } from "../signals.js"

export const directoryCommand: Command = {
  spec: {
    name: "directory",
    summary: "run an embedded IICP directory",
    usage: "iicp directory [--port <n>] [--host <addr>] [--mode local|production] [--data <dir>]",
    flags: {
      port: { type: "string", env: "IICP_DIRECTORY_PORT", default: String(DEFAULT_DIRECTORY_PORT), value: "<n>", description: "TCP port (0 = any free port)" },
      host: { type: "string", env: "IICP_DIRECTORY_HOST", default: "127.0.0.1", value: "<addr>", description: "bind address" },
      mode: { type: "string", env: "IICP_DIRECTORY_MODE", default: "local", value: "<mode>", description: "local (lab addresses allowed) or production" },
      data: { type: "string", env: "IICP_DATA_DIR", value: "<dir>", description: "keep nodes, token hashes and keys in this folder across restarts" },
      "log-level": { type: "string", env: "IICP_LOG_LEVEL", default: "info", value: "<level>", description: "debug, info, warn, error or silent" }
    },
    examples: ["iicp directory --port 8090", "iicp directory --mode production --host 0.0.0.0 --data /var/lib/iicp"]
  },
  run: async (args, out) => {
    // Listen for Ctrl-C/SIGTERM before anything starts, so a stop during start-up is not lost.
    const stopRequested = untilSignal()
    const data = optionalString(args, "data")
    const dir = await startDirectory({
      port: intFlag(args, "port", 0, 65535) ?? DEFAULT_DIRECTORY_PORT,
      host: optionalString(args, "host") ?? "127.0.0.1",
      mode: choiceFlag(args, "mode", ["local", "production"] as const) ?? "local",
      logger: createLogger({ component: "directory", level: choiceFlag(args, "log-level", LOG_LEVELS) ?? "info" }),
      ...(data ? { dataDir: data } : {})
    })
    if (out.json) out.print(JSON.stringify({ url: dir.url, port: dir.port, public_key: dir.publicKeyHex }))
    else {
      out.print(`directory listening on ${dir.url}`)
      out.status(`nodes: iicp serve --directory-url ${dir.url}   clients: export IICP_DIRECTORY_URL=${dir.url}`)
    }
    const signal = await stopRequested
    out.status(`${signal}: stopping directory`)
    await dir.stop()
    return EXIT_OK
  }
}
