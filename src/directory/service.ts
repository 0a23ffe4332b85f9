/** The directory as an Effect service: a `Context.Tag` for a running directory and its layers. */
import { Context, Effect, Layer } from "effect"
import type { Scope } from "effect"
import { createLogger } from "../runtime/log.js"
import { resolveConfig } from "./config.js"
import type { DirectoryOptions } from "./config.js"
import { DirectoryStartError } from "./errors.js"
import { startServer } from "./server.js"
import type { RunningDirectory } from "./server.js"
import { fileStoreLayer } from "./store/file.js"
import { memoryStoreLayer } from "./store/memory.js"
import { DirectoryStore } from "./store/types.js"

const DEFAULT_HOST = "127.0.0.1"

/** Starts a directory on the current runtime with the `DirectoryStore` in context; stops when the scope closes. */
export const makeDirectory = (
  options: DirectoryOptions = {}
): Effect.Effect<RunningDirectory, DirectoryStartError, DirectoryStore | Scope.Scope> =>
  Effect.flatMap(DirectoryStore, (store) =>
    startServer({
      port: options.port ?? 0,
      host: options.host ?? DEFAULT_HOST,
      ...(options.publicUrl === undefined ? {} : { publicUrl: options.publicUrl.replace(/\/+$/, "").replace(/\/api$/, "") }),
      config: resolveConfig(options),
      store,
      logger: options.logger ?? createLogger({ component: "directory" })
    })
  )

/** The store `options` ask for: a store of your own, the file store (`dataDir`), or memory. */
export const storeLayerFor = (options: DirectoryOptions): Layer.Layer<DirectoryStore, DirectoryStartError> => {
  const store = options.store ?? (options.dataDir === undefined ? "memory" : "file")
  if (typeof store === "object") return Layer.succeed(DirectoryStore, store)
  if (store === "memory") return memoryStoreLayer
  if (options.dataDir === undefined) {
    return Layer.fail(new DirectoryStartError({ reason: "invalid_options", message: "the file store needs dataDir" }))
  }
  const logger = options.logger ?? createLogger({ component: "directory" })
  return fileStoreLayer(options.dataDir, () => logger.error("directory data file write failed"))
}

/** A running embedded directory (WIRE.md §6). */
export class Directory extends Context.Tag("iicp-mesh/Directory")<Directory, RunningDirectory>() {
  /** The directory over the `DirectoryStore` in context. */
  static readonly layer = (options: DirectoryOptions = {}): Layer.Layer<Directory, DirectoryStartError, DirectoryStore> =>
    Layer.scoped(Directory, makeDirectory(options))

  /** The directory with the store its options name (memory by default, file with `dataDir`). */
  static readonly layerWithStore = (options: DirectoryOptions = {}): Layer.Layer<Directory | DirectoryStore, DirectoryStartError> =>
    Layer.provideMerge(Directory.layer(options), storeLayerFor(options))
}
