import { it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { describe, expect } from "vitest"
import { Directory, DirectoryStore } from "../../src/directory/effect.js"
import { startDirectory } from "../../src/directory/index.js"
import { silentLogger } from "../../src/runtime/log.js"
import { CHAT, call, discover, registerNode, registration } from "./helpers.js"

describe("the directory as a service", () => {
  it.scoped("Effect API: Directory.layerWithStore provides the running directory and its store", () =>
    Effect.gen(function* () {
      const dir = yield* Directory
      const store = yield* DirectoryStore
      const ack = yield* registerNode(dir.url, registration("http://127.0.0.1:8020", { node_id: "svc" }))
      expect((yield* store.getNode("svc"))?.node_id).toBe(ack.node_id)
      expect((yield* call(`${dir.url}/v1/directory-key`)).json.public_key).toBe(dir.publicKeyHex)
    }).pipe(Effect.provide(Directory.layerWithStore({ liveness: "off", logger: silentLogger })))
  )

  it.scoped("Promise API: the `clock` option makes directory time follow a given Clock (here the TestClock)", () =>
    Effect.gen(function* () {
      yield* TestClock.adjust("1 hours")
      const clock = yield* Effect.clock
      const dir = yield* Effect.acquireRelease(
        Effect.promise(() => startDirectory({ clock, liveness: "off", logger: silentLogger })),
        (handle) => Effect.promise(handle.stop)
      )
      yield* registerNode(dir.url, registration("http://127.0.0.1:8020"))
      expect((yield* discover(dir.url, `intent=${CHAT}`)).json.nodes[0].last_seen).toBe("1970-01-01T01:00:00Z")
      yield* TestClock.adjust("91 seconds")
      expect((yield* discover(dir.url, `intent=${CHAT}`)).json.count).toBe(0)
    })
  )
})
