/**
 * The file-backed store: the in-memory store plus a JSON snapshot in `dataDir`, so a restarted
 * directory keeps its nodes, token hashes, signing key and address history. Writes are coalesced
 * and atomic (temporary file, then rename); closing the layer flushes. The file is owner-only
 * because it holds the directory's private key.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { Effect, Layer } from "effect"
import type { Scope } from "effect"
import { STORE_WRITE_DEBOUNCE_MS } from "../../constants.js"
import { DirectoryStartError } from "../errors.js"
import { createMemoryStore } from "./memory.js"
import type { StoreSnapshot } from "./memory.js"
import { DirectoryStore } from "./types.js"
import type { DirectoryStoreApi } from "./types.js"

const SNAPSHOT_FILE = "directory.json"
const SNAPSHOT_VERSION = 1

interface SnapshotFile extends StoreSnapshot {
  readonly version: number
}

const readSnapshot = (path: string): Effect.Effect<StoreSnapshot | undefined, DirectoryStartError> =>
  Effect.tryPromise({
    try: async () => {
      let text: string
      try {
        text = await readFile(path, "utf8")
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined
        throw error
      }
      const parsed = JSON.parse(text) as Partial<SnapshotFile>
      if (parsed.version !== SNAPSHOT_VERSION || !Array.isArray(parsed.nodes) || !Array.isArray(parsed.history)) {
        throw new Error("unknown snapshot format")
      }
      return parsed as SnapshotFile
    },
    catch: () => new DirectoryStartError({ reason: "store_unreadable", message: "the directory data file cannot be read" })
  })

/**
 * Opens (or creates) the store in `dataDir`. The returned effect needs a scope: closing it writes
 * what is pending. `onWriteError` hears about failed writes (the next change retries).
 */
export const openFileStore = (
  dataDir: string,
  onWriteError: (error: unknown) => void = () => undefined
): Effect.Effect<DirectoryStoreApi, DirectoryStartError, Scope.Scope> =>
  Effect.gen(function* () {
    const path = join(dataDir, SNAPSHOT_FILE)
    yield* Effect.tryPromise({
      try: () => mkdir(dataDir, { recursive: true, mode: 0o700 }),
      catch: () => new DirectoryStartError({ reason: "store_unreadable", message: "the directory data folder cannot be created" })
    })
    const memory = createMemoryStore(yield* readSnapshot(path))
    let timer: NodeJS.Timeout | undefined
    let writing: Promise<void> = Promise.resolve()

    const write = (): Promise<void> => {
      timer = undefined
      const file: SnapshotFile = { version: SNAPSHOT_VERSION, ...memory.snapshot() }
      const temp = `${path}.${process.pid}.tmp`
      writing = writing
        .then(() => writeFile(temp, JSON.stringify(file), { mode: 0o600 }))
        .then(() => rename(temp, path))
        .catch(onWriteError)
      return writing
    }
    // The write-behind timer paces disk I/O only; no protocol time depends on it.
    const schedule = () => {
      timer ??= setTimeout(write, STORE_WRITE_DEBOUNCE_MS).unref()
    }
    const flush = Effect.promise(() => {
      if (timer) clearTimeout(timer)
      return timer ? write() : writing
    })
    const changed = <A extends Array<unknown>>(mutate: (...args: A) => Effect.Effect<void>) =>
      (...args: A) => Effect.zipRight(mutate(...args), Effect.sync(schedule))

    yield* Effect.addFinalizer(() => flush)
    return {
      ...memory,
      putNode: changed(memory.putNode),
      deleteNode: changed(memory.deleteNode),
      appendAddress: changed(memory.appendAddress),
      putSigningKey: changed(memory.putSigningKey),
      flush
    }
  })

/** The file store as a layer. */
export const fileStoreLayer = (dataDir: string, onWriteError?: (error: unknown) => void): Layer.Layer<DirectoryStore, DirectoryStartError> =>
  Layer.scoped(DirectoryStore, openFileStore(dataDir, onWriteError))
