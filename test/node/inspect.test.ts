/** Users can watch the node's registration machine: the `inspect` option sees its states. */
import { describe, expect, it } from "vitest"
import { startDirectory } from "../../src/directory/index.js"
import { echoBackend, IicpNode } from "../../src/node/index.js"
import { onRootState } from "../../src/runtime/inspector.js"
import { silentLogger } from "../../src/runtime/log.js"

describe("node inspection", () => {
  it("reports the registration machine's states from registering to deregistered", async () => {
    const directory = await startDirectory({ port: 0, liveness: "off", logger: silentLogger })
    const states: Array<string> = []
    const node = new IicpNode({ nodeId: "inspected", directoryUrl: directory.url, logger: silentLogger, inspect: onRootState((s) => states.push(s)) })
    const server = await node.serve(echoBackend(), { port: 0, host: "127.0.0.1" })
    while (node.registration().nodeToken === undefined) await new Promise((r) => setTimeout(r, 20))
    await server.stop()
    await directory.stop()
    expect(states[0]).toMatch(/^registering/)
    expect(states.some((s) => s.startsWith("registered"))).toBe(true)
    expect(states[states.length - 1]).toBe("deregistered")
    expect(node.registration().phase).toBe("stopped")
  })
})
