/** The client through `iicp-mesh/effect`: the tag and its layer against a real directory and node. */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import * as EffectApi from "../../src/effect.js"
import { IicpClient as PromiseClient } from "../../src/index.js"
import { startDirectory } from "../../src/directory/index.js"
import { echoBackend, IicpNode } from "../../src/node/index.js"
import { silentLogger } from "../../src/runtime/log.js"

describe("Effect API", () => {
  it("exposes IicpClient as a service tag with a layer, distinct from the Promise class", () => {
    expect(EffectApi.IicpClient).toBe(EffectApi.IicpClientService)
    expect(EffectApi.IicpClient).not.toBe(PromiseClient)
    expect(typeof EffectApi.IicpClient.layer).toBe("function")
  })

  it("routes a chat through the layer; a bad config fails the layer with InvalidConfig", async () => {
    const directory = await startDirectory({ port: 0, liveness: "off", logger: silentLogger })
    const node = new IicpNode({ nodeId: "effect-node", directoryUrl: directory.url, logger: silentLogger })
    const server = await node.serve(echoBackend(), { port: 0, host: "127.0.0.1" })
    try {
      while (node.registration().nodeToken === undefined) await new Promise((r) => setTimeout(r, 20))
      const program = Effect.flatMap(EffectApi.IicpClient, (client) => client.chat([{ role: "user", content: "effectful" }]))
      const answer = await Effect.runPromise(Effect.provide(program, EffectApi.IicpClient.layer({ directoryUrl: directory.url })))
      expect(answer).toMatchObject({ node_id: "effect-node" })
      expect(answer.choices[0]?.message.content).toContain("effectful")

      const invalid = await Effect.runPromise(Effect.flip(Effect.provide(program, EffectApi.IicpClient.layer({ timeoutMs: 120_001 }))))
      expect(invalid).toMatchObject({ _tag: "InvalidConfig", field: "timeoutMs" })
    } finally {
      await server.stop()
      await directory.stop()
    }
  })
})
