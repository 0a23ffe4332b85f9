#!/usr/bin/env node
/**
 * `iicp`: run a directory or a provider node, route chats, and bring up a whole local mesh.
 * Exit codes: 0 ok, 1 failure, 2 usage. Errors are one clear line on stderr.
 */
import { IicpError } from "../protocol/errors.js"
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, helpText, parseCommandArgs, UsageError } from "./args.js"
import type { CommandSpec, ParsedArgs } from "./args.js"
import { chatCommand } from "./commands/chat.js"
import { demoCommand } from "./commands/demo.js"
import { directoryCommand } from "./commands/directory.js"
import { discoverCommand } from "./commands/discover.js"
import { serveCommand } from "./commands/serve.js"
import { upCommand } from "./commands/up.js"
import { processOutput } from "./output.js"
import type { Output } from "./output.js"

/** A command: its spec and what it does with parsed arguments; resolves with the exit code. */
export interface Command {
  readonly spec: CommandSpec
  readonly run: (args: ParsedArgs, out: Output) => Promise<number>
}

const COMMANDS: ReadonlyArray<Command> = [directoryCommand, serveCommand, chatCommand, discoverCommand, upCommand, demoCommand]

const mainHelp = (): string =>
  [
    "Usage: iicp <command> [options]",
    "",
    "Route AI tasks by intent across an IICP mesh.",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.spec.name.padEnd(10)} ${c.spec.summary}`),
    "",
    "Run `iicp <command> --help` for a command's options. Every option has an IICP_* environment variable."
  ].join("\n")

/** Runs the CLI with `argv` (without node and script) and resolves with the exit code. */
export const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  const [name, ...rest] = argv
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(mainHelp() + "\n")
    return name === undefined ? EXIT_USAGE : EXIT_OK
  }
  const command = COMMANDS.find((c) => c.spec.name === name)
  if (!command) {
    process.stderr.write(`iicp: unknown command '${name}'\nUsage: iicp <command> [options] (see iicp --help)\n`)
    return EXIT_USAGE
  }
  let args: ParsedArgs
  try {
    args = parseCommandArgs(command.spec, rest)
  } catch (error) {
    process.stderr.write(`iicp ${name}: ${(error as Error).message}\nUsage: ${command.spec.usage}\n`)
    return EXIT_USAGE
  }
  if (args.flags["help"] === true) {
    process.stdout.write(helpText(command.spec) + "\n")
    return EXIT_OK
  }
  const out = processOutput(args.flags["json"] === true)
  try {
    return await command.run(args, out)
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`iicp ${name}: ${error.message}\nUsage: ${command.spec.usage}\n`)
      return EXIT_USAGE
    }
    const line = error instanceof IicpError ? `[${error.code}] ${error.message}` : error instanceof Error ? error.message : "failed"
    if (out.json) process.stdout.write(JSON.stringify({ error: error instanceof IicpError ? error.toJSON() : { message: line } }) + "\n")
    process.stderr.write(`iicp ${name}: ${line}\n`)
    return EXIT_FAILURE
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  () => {
    process.exitCode = EXIT_FAILURE
  }
)
