import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { afterEach, beforeEach, describe, expect } from "vitest"
import { IicpError } from "../../src/protocol/errors.js"
import { startDirectory } from "../../src/directory/index.js"
import { makeDirectory } from "../../src/directory/service.js"
import { fileStoreLayer } from "../../src/directory/store/file.js"
import { DirectoryStore } from "../../src/directory/store/types.js"
import { silentLogger } from "../../src/runtime/log.js"
import { CHAT, call, discover, registerNode, registration } from "./helpers.js"

let dataDir = ""
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "iicp-dir-"))
})
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true })
})

/** One directory lifetime over the file store in `dataDir`: the store flushes when the scope closes. */
const lifetime = <A>(use: (url: string) => Effect.Effect<A>) =>
  Effect.scoped(
    Effect.flatMap(
      makeDirectory({ logger: silentLogger, liveness: "off" }).pipe(Effect.orDie),
      (dir) => use(dir.url)
    ).pipe(Effect.provide(Layer.orDie(fileStoreLayer(dataDir))))
  )

describe("file store", () => {
  it.effect("a restart loses nothing: nodes, token hash (heartbeat still valid), key pair, address history", () =>
    Effect.gen(function* () {
      const before = yield* lifetime((url) =>
        Effect.gen(function* () {
          const ack = yield* registerNode(url, registration("http://127.0.0.1:8020", { node_id: "keeper" }), { "x-forwarded-for": "198.51.100.4" })
          yield* call(`${url}/v1/heartbeat`, { body: { node_id: "keeper" }, headers: { authorization: `Bearer ${ack.node_token}`, "x-forwarded-for": "203.0.113.8" } })
          const key = yield* call(`${url}/v1/directory-key`)
          return { ack, publicKey: key.json.public_key as string }
        })
      )
      const file = yield* Effect.promise(() => readFile(join(dataDir, "directory.json"), "utf8"))
      expect(file).not.toContain(before.ack.node_token)
      expect(yield* Effect.promise(() => readdir(dataDir))).toEqual(["directory.json"])

      yield* lifetime((url) =>
        Effect.gen(function* () {
          expect((yield* call(`${url}/v1/directory-key`)).json.public_key).toBe(before.publicKey)
          expect((yield* discover(url, `intent=${CHAT}`)).json.nodes.map((n: { node_id: string }) => n.node_id)).toEqual(["keeper"])
          // No digest is cached after the restart, so this beat is checked against the scrypt hash.
          const beat = yield* call(`${url}/v1/heartbeat`, { body: { node_id: "keeper" }, headers: { authorization: `Bearer ${before.ack.node_token}` } })
          expect(beat.status).toBe(200)
          expect((yield* call(`${url}/v1/heartbeat`, { body: { node_id: "keeper" }, headers: { authorization: `Bearer ${"0".repeat(64)}` } })).status).toBe(401)
        })
      )
      const store = yield* Effect.scoped(Effect.provide(DirectoryStore, Layer.orDie(fileStoreLayer(dataDir))))
      expect((yield* store.addressHistory("keeper")).map((row) => [row.type, row.ip])).toEqual([
        ["register", "198.51.100.4"],
        ["heartbeat", "203.0.113.8"],
        ["heartbeat", "127.0.0.1"]
      ])
    })
  )

  it("startDirectory with dataDir persists across stop/start; an unreadable data file is a clear start error", async () => {
    const first = await startDirectory({ dataDir, liveness: "off", logger: silentLogger })
    const key = (await (await fetch(`${first.url}/v1/directory-key`)).json()) as { public_key: string }
    await first.stop()
    const second = await startDirectory({ dataDir, liveness: "off", logger: silentLogger })
    expect(((await (await fetch(`${second.url}/v1/directory-key`)).json()) as { public_key: string }).public_key).toBe(key.public_key)
    await second.stop()
    await writeFile(join(dataDir, "directory.json"), "{ truncated")
    const failure = await startDirectory({ dataDir, logger: silentLogger }).catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(IicpError)
    expect((failure as IicpError).code).toBe("invalid_config")
    expect((failure as IicpError).message).toBe("the directory data file cannot be read")
  })

  it("startDirectory rejects clearly when the port is taken or the file store has no dataDir", async () => {
    const noDir = await startDirectory({ store: "file", logger: silentLogger }).catch((error: unknown) => error)
    expect(noDir).toBeInstanceOf(IicpError)
    expect((noDir as IicpError).message).toBe("the file store needs dataDir")
    const first = await startDirectory({ logger: silentLogger })
    const failure = await startDirectory({ port: first.port, logger: silentLogger }).catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(IicpError)
    expect((failure as IicpError).message).toContain("cannot listen")
    await first.stop()
  })
})
