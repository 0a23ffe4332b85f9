/** The in-memory store: nodes by id, a serving index per intent for discover, address history, the signing key. */
import { Effect, Layer } from "effect"
import type { SigningKeyPair } from "../../protocol/consumer-token.js"
import { createServingIndex } from "../serving-index.js"
import type { ServingIndex } from "../serving-index.js"
import { DirectoryStore } from "./types.js"
import type { AddressRow, DirectoryStoreApi, NodeRecord } from "./types.js"

/** The full contents of a store, as the file store persists it. */
export interface StoreSnapshot {
  readonly nodes: ReadonlyArray<NodeRecord>
  readonly history: ReadonlyArray<AddressRow>
  readonly signingKey?: SigningKeyPair
}

/** An in-memory store plus a synchronous snapshot of its contents. */
export interface MemoryStore extends DirectoryStoreApi {
  readonly snapshot: () => StoreSnapshot
}

/** A store held in memory, optionally seeded from a snapshot. */
export const createMemoryStore = (initial?: StoreSnapshot): MemoryStore => {
  const nodes = new Map<string, NodeRecord>()
  // Discover ranks the nodes of one intent per request; each intent's index is kept up to date on every change.
  const byIntent = new Map<string, ServingIndex>()
  let history: Array<AddressRow> = [...(initial?.history ?? [])]
  let signingKey = initial?.signingKey

  const unindex = (nodeId: string, intent: string) => {
    const serving = byIntent.get(intent)
    serving?.remove(nodeId)
    if (serving?.size() === 0) byIntent.delete(intent)
  }
  const put = (record: NodeRecord) => {
    const previous = nodes.get(record.node_id)
    nodes.set(record.node_id, record)
    for (const capability of previous?.capabilities ?? []) {
      if (!record.capabilities.some((c) => c.intent === capability.intent)) unindex(record.node_id, capability.intent)
    }
    for (const capability of record.capabilities) {
      let serving = byIntent.get(capability.intent)
      if (!serving) byIntent.set(capability.intent, (serving = createServingIndex(capability.intent)))
      serving.put(record)
    }
  }
  for (const record of initial?.nodes ?? []) put(record)

  return {
    getNode: (nodeId) => Effect.sync(() => nodes.get(nodeId)),
    putNode: (record) => Effect.sync(() => put(record)),
    deleteNode: (nodeId) =>
      Effect.sync(() => {
        for (const capability of nodes.get(nodeId)?.capabilities ?? []) unindex(nodeId, capability.intent)
        nodes.delete(nodeId)
      }),
    nodesServing: (intent) => Effect.sync(() => byIntent.get(intent)),
    allNodes: Effect.sync(() => [...nodes.values()]),
    appendAddress: (row, retainSinceMs) =>
      Effect.sync(() => {
        if (history.length > 0 && history[0]!.at_ms < retainSinceMs) history = history.filter((r) => r.at_ms >= retainSinceMs)
        history.push(row)
      }),
    addressHistory: (nodeId) => Effect.sync(() => history.filter((row) => row.node_id === nodeId)),
    getSigningKey: Effect.sync(() => signingKey),
    putSigningKey: (keyPair) =>
      Effect.sync(() => {
        signingKey = keyPair
      }),
    flush: Effect.void,
    snapshot: () => ({ nodes: [...nodes.values()], history: [...history], ...(signingKey ? { signingKey } : {}) })
  }
}

/** The in-memory store as a layer. */
export const memoryStoreLayer: Layer.Layer<DirectoryStore> = Layer.sync(DirectoryStore, () => createMemoryStore())
