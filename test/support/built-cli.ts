/**
 * Runs the built `iicp` binary (dist/, built by `npm test`'s pretest step) as a child process.
 */
import { execFileSync, spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { existsSync } from "node:fs"
import { createInterface } from "node:readline"

const root = new URL("../..", import.meta.url).pathname
/** Path of the built CLI entry. */
export const CLI = `${root}dist/src/cli/main.js`

/** Builds dist/ when a test file runs on its own without the pretest build. */
export const ensureBuilt = (): void => {
  if (!existsSync(CLI)) execFileSync("npm", ["run", "build"], { cwd: root, stdio: "ignore" })
}

/** Output of a finished CLI run. */
export interface CliRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `iicp <args>` to completion (bounded by `timeoutMs`). */
export const runCli = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<CliRun> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`iicp ${args.join(" ")} did not finish within ${timeoutMs} ms; stderr: ${stderr}`))
    }, timeoutMs)
    child.on("exit", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })

/** A long-running CLI process and the first JSON line it printed (its address). */
export interface CliServer<T> {
  readonly ready: T
  readonly child: ChildProcess
  readonly stderr: () => string
  /** Resolves with the exit code once the process ended. */
  readonly exited: Promise<number | null>
}

/** Starts `iicp <args> --json` and waits for its first stdout line. */
export const startCli = <T>(args: ReadonlyArray<string>, timeoutMs = 20_000): Promise<CliServer<T>> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args, "--json"], { stdio: ["ignore", "pipe", "pipe"] })
    let stderr = ""
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`iicp ${args.join(" ")} printed nothing within ${timeoutMs} ms; stderr: ${stderr}`))
    }, timeoutMs)
    createInterface({ input: child.stdout! }).once("line", (line) => {
      clearTimeout(timer)
      resolve({ ready: JSON.parse(line) as T, child, stderr: () => stderr, exited })
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`iicp ${args.join(" ")} exited with ${code}: ${stderr}`))
    })
  })
