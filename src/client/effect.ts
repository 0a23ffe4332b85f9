/**
 * The client as an Effect service (`iicp-mesh/effect`):
 *
 * ```ts
 * const program = Effect.flatMap(IicpClientService, (client) => client.chat([{ role: "user", content: "hi" }]))
 * await Effect.runPromise(Effect.provide(program, IicpClientService.layer({ directoryUrl })))
 * ```
 */
export { IicpClientService, makeIicpClient } from "./service.js"
/** The service tag under the name the Promise class has at the package root: `import { IicpClient } from "iicp-mesh/effect"`. */
export { IicpClientService as IicpClient } from "./service.js"
export type { IicpClientApi } from "./service.js"
export { resolveClientConfig } from "./config.js"
export { normalizeDirectoryUrl } from "../protocol/directory-url.js"
export type { IicpClientConfig, ResolvedClientConfig, ConsumerAuthMode } from "./config.js"
export type * from "./types.js"
