/**
 * Structured logging for servers. Lines are JSON on stderr by default. By contract (WIRE.md §1.2)
 * callers pass identifiers only (task_id, node_id, codes): never payloads, prompts, results or tokens.
 */

/** Fields a log line may carry. Keep to ids, codes, counts and durations. */
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>

/** Log levels, most verbose first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/** Where servers log. */
export interface Logger {
  readonly debug: (message: string, fields?: LogFields) => void
  readonly info: (message: string, fields?: LogFields) => void
  readonly warn: (message: string, fields?: LogFields) => void
  readonly error: (message: string, fields?: LogFields) => void
}

const ORDER: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 }

/** A logger writing one JSON line per event to `sink` (stderr by default) at or above `level`. */
export const createLogger = (options: {
  readonly level?: LogLevel
  readonly component: string
  readonly sink?: (line: string) => void
}): Logger => {
  const threshold = ORDER[options.level ?? "info"]
  const sink = options.sink ?? ((line: string) => process.stderr.write(line + "\n"))
  const at = (level: Exclude<LogLevel, "silent">) => (message: string, fields?: LogFields) => {
    if (ORDER[level] < threshold) return
    sink(JSON.stringify({ t: new Date().toISOString(), level, component: options.component, msg: message, ...fields }))
  }
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") }
}

/** A logger that drops everything. */
export const silentLogger: Logger = createLogger({ level: "silent", component: "silent" })
