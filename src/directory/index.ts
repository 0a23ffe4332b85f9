/**
 * Public Promise API of the directory role: an embedded IICP directory (WIRE.md §6).
 *
 * ```ts
 * const dir = await startDirectory({ port: 0, mode: "local", dataDir: "./dir-data" })
 * // nodes register at `${dir.url}/v1/register`, clients discover at `${dir.url}/v1/discover`
 * await dir.stop()
 * ```
 */
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { IicpError } from "../protocol/errors.js"
import type { DirectoryOptions } from "./config.js"
import { Directory } from "./service.js"

export type { DirectoryMode, DirectoryOptions, LivenessMode } from "./config.js"
export type { DirectoryStoreApi, NodeRecord, AddressRow } from "./store/types.js"
export { createMemoryStore } from "./store/memory.js"

/** A running directory started by {@link startDirectory}. */
export interface DirectoryHandle {
  /** Base URL, e.g. `http://127.0.0.1:39117`; routes live under `/v1` and `/api/v1`. */
  readonly url: string
  readonly port: number
  /** The Ed25519 public key (64 hex) consumer tokens are signed with. */
  readonly publicKeyHex: string
  /** Stops listening, cancels background probes and flushes the file store. */
  readonly stop: () => Promise<void>
}

/**
 * Starts an embedded directory. Rejects with an {@link IicpError} (`invalid_config`) when the port
 * cannot be bound or the data folder cannot be read.
 */
export const startDirectory = async (options: DirectoryOptions = {}): Promise<DirectoryHandle> => {
  const scope = Effect.runSync(Scope.make())
  const build = Layer.buildWithScope(Directory.layerWithStore(options), scope)
  const exit = await Effect.runPromiseExit(options.clock ? Effect.withClock(build, options.clock) : build)
  if (Exit.isFailure(exit)) {
    await Effect.runPromise(Scope.close(scope, exit))
    const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
    throw new IicpError({
      code: "invalid_config",
      message: failure?.message ?? "the directory could not start",
      component: "directory",
      retryable: false
    })
  }
  const running = Context.get(exit.value, Directory)
  let stopped: Promise<void> | undefined
  return {
    url: running.url,
    port: running.port,
    publicKeyHex: running.publicKeyHex,
    stop: () => (stopped ??= Effect.runPromise(Scope.close(scope, Exit.void)))
  }
}
