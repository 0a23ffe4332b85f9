/** The node's outbound keep-alive pool towards its directory, as an Effect service closed with its scope. */
import { Context, Effect, Layer } from "effect"
import type { Dispatcher } from "undici"
import { createAgent } from "../runtime/http-client.js"

/** The undici dispatcher the node uses for directory calls. */
export class DirectoryAgent extends Context.Tag("iicp-mesh/DirectoryAgent")<DirectoryAgent, Dispatcher>() {
  static readonly layer: Layer.Layer<DirectoryAgent> = Layer.scoped(
    DirectoryAgent,
    Effect.acquireRelease(Effect.sync(createAgent), (agent) => Effect.promise(() => agent.close()))
  )
}
