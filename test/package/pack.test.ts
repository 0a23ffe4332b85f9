/**
 * The published package works from a plain ESM project: `npm pack`, install the tarball into a
 * fresh folder, import every entry point and run the `iicp` binary. Uses the build from `npm test`'s
 * pretest step; dependencies come from the npm cache the project install filled.
 */
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const root = new URL("../..", import.meta.url).pathname
const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 240_000 })

describe("npm pack + install into a plain ESM project", () => {
  let project = ""

  beforeAll(() => {
    if (!existsSync(join(root, "dist/src/index.js"))) run("npm", ["run", "build"], root)
    project = mkdtempSync(join(tmpdir(), "iicp-pack-"))
    const tarball = run("npm", ["pack", "--silent", "--pack-destination", project], root).trim().split("\n").pop()!
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", type: "module", private: true }))
    run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", join(project, tarball)], project)
  }, 300_000)

  afterAll(() => {
    if (project) rmSync(project, { recursive: true, force: true })
  })

  it("imports the Promise API, the Effect API and the machines", () => {
    writeFileSync(
      join(project, "check.mjs"),
      [
        'import { IicpClient, IicpNode, IicpError, startDirectory } from "iicp-mesh"',
        'import * as effectApi from "iicp-mesh/effect"',
        'import * as machines from "iicp-mesh/machines"',
        "const client = new IicpClient({ directoryUrl: 'http://127.0.0.1:9' })",
        "await client.close()",
        "console.log(JSON.stringify({ client: typeof IicpClient, node: typeof IicpNode, error: typeof IicpError, directory: typeof startDirectory,",
        "  effect: Object.keys(effectApi).length, machines: Object.keys(machines).sort() }))"
      ].join("\n")
    )
    const out = JSON.parse(run("node", ["check.mjs"], project))
    expect(out).toMatchObject({ client: "function", node: "function", error: "function", directory: "function" })
    expect(out.effect).toBeGreaterThan(10)
    expect(out.machines).toEqual(expect.arrayContaining(["nodeRegistrationMachine", "taskLifecycleMachine"]))
  })

  it("installs the iicp binary", () => {
    const help = run(join(project, "node_modules/.bin/iicp"), ["--help"], project)
    expect(help).toMatch(/Usage: iicp/)
  })
})
