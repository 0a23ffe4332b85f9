/**
 * Flag parsing for the `iicp` commands: node's `parseArgs` in strict mode, every flag mirrored by an
 * `IICP_*` environment variable (flag > environment > default), and usage errors as exit code 2.
 */
import { parseArgs } from "node:util"
import { nonEmptyString } from "../protocol/json.js"

/** Exit codes of every command. */
export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

/** A command-line usage error: printed as one line plus the usage, exit 2. */
export class UsageError extends Error {
  override readonly name = "UsageError"
}

/** One flag of a command. */
export interface FlagSpec {
  readonly type: "string" | "boolean"
  readonly short?: string
  /** Environment variable mirroring the flag, e.g. `IICP_DIRECTORY_URL`. */
  readonly env?: string
  readonly default?: string | boolean
  readonly description: string
  /** Placeholder shown in help, e.g. `<url>`. */
  readonly value?: string
}

/** A command: its flags, positional arguments and help text. */
export interface CommandSpec {
  readonly name: string
  readonly summary: string
  readonly usage: string
  readonly flags: Readonly<Record<string, FlagSpec>>
  readonly examples?: ReadonlyArray<string>
}

/** Flags every command accepts. */
export const COMMON_FLAGS: Readonly<Record<string, FlagSpec>> = {
  help: { type: "boolean", short: "h", description: "show this help" },
  json: { type: "boolean", description: "machine-readable JSON output" }
}

/** Parsed flags: strings and booleans by flag name, plus positionals. */
export interface ParsedArgs {
  readonly flags: Readonly<Record<string, string | boolean | undefined>>
  readonly positionals: ReadonlyArray<string>
}

/** Parses `argv` against `spec`, applying environment fallbacks; throws {@link UsageError} on unknown or malformed flags. */
export const parseCommandArgs = (spec: CommandSpec, argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env): ParsedArgs => {
  const all = { ...COMMON_FLAGS, ...spec.flags }
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {}
  for (const [name, flag] of Object.entries(all)) options[name] = { type: flag.type, ...(flag.short ? { short: flag.short } : {}) }
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true })
  } catch (error) {
    throw new UsageError((error as Error).message.split("\n")[0] ?? "bad arguments")
  }
  const flags: Record<string, string | boolean | undefined> = {}
  for (const [name, flag] of Object.entries(all)) {
    const given = parsed.values[name]
    const fromEnv = flag.env ? env[flag.env] : undefined
    if (given !== undefined) flags[name] = given as string | boolean
    else if (fromEnv !== undefined && fromEnv !== "") flags[name] = flag.type === "boolean" ? /^(1|true|yes)$/i.test(fromEnv) : fromEnv
    else flags[name] = flag.default
  }
  return { flags, positionals: parsed.positionals }
}

/** An optional string flag. */
export const optionalString = (args: ParsedArgs, name: string): string | undefined => nonEmptyString(args.flags[name])

const boundedNumber = (args: ParsedArgs, name: string, min: number, max: number, kind: "integer" | "number"): number | undefined => {
  const value = optionalString(args, name)
  if (value === undefined) return undefined
  const n = Number(value)
  const valid = kind === "integer" ? Number.isInteger(n) : Number.isFinite(n)
  if (!valid || n < min || n > max) throw new UsageError(`--${name} must be ${kind === "integer" ? "an integer" : "a number"} from ${min} to ${max}`)
  return n
}

/** An integer flag within bounds; a usage error otherwise. */
export const intFlag = (args: ParsedArgs, name: string, min: number, max: number): number | undefined =>
  boundedNumber(args, name, min, max, "integer")

/** A number flag within bounds; a usage error otherwise. */
export const numberFlag = (args: ParsedArgs, name: string, min: number, max: number): number | undefined =>
  boundedNumber(args, name, min, max, "number")

/** A flag restricted to some values. */
export const choiceFlag = <T extends string>(args: ParsedArgs, name: string, choices: ReadonlyArray<T>): T | undefined => {
  const value = optionalString(args, name)
  if (value === undefined) return undefined
  if (!(choices as ReadonlyArray<string>).includes(value)) throw new UsageError(`--${name} must be one of ${choices.join(", ")}`)
  return value as T
}

/** The help text of a command. */
export const helpText = (spec: CommandSpec): string => {
  const all = { ...spec.flags, ...COMMON_FLAGS }
  const rows = Object.entries(all).map(([name, flag]) => {
    const left = `  ${flag.short ? `-${flag.short}, ` : "    "}--${name}${flag.type === "string" ? ` ${flag.value ?? "<value>"}` : ""}`
    const extras = [flag.env ? `env ${flag.env}` : "", flag.default !== undefined && flag.default !== false ? `default ${String(flag.default)}` : ""]
      .filter(Boolean)
      .join("; ")
    return `${left.padEnd(34)} ${flag.description}${extras ? ` (${extras})` : ""}`
  })
  return [
    `Usage: ${spec.usage}`,
    "",
    spec.summary,
    "",
    "Options:",
    ...rows,
    ...(spec.examples?.length ? ["", "Examples:", ...spec.examples.map((e) => `  ${e}`)] : [])
  ].join("\n")
}
