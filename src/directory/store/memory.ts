/** The in-memory store: nodes by id, an intent index for discover, address history, the signing key. */
import { Effect, Layer } from "effect"
import type { SigningKeyPair } from "../../protocol/consumer-token.js"
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
  const byIntent = new Map<string, Map<string, NodeRecord>>()
  // Discover reads every node of an intent per request; the array is rebuilt only after a change.
  const servingArrays = new Map<string, ReadonlyArray<NodeRecord>>()
  let history: Array<AddressRow> = [...(initial?.history ?? [])]
  let signingKey = initial?.signingKey

  const unindex = (record: NodeRecord) => {
    for (const capability of record.capabilities) {
      servingArrays.delete(capability.intent)
      const serving = byIntent.get(capability.intent)
      serving?.delete(record.node_id)
      if (serving?.size === 0) byIntent.delete(capability.intent)
    }
  }
  const put = (record: NodeRecord) => {
    const previous = nodes.get(record.node_id)
    if (previous) unindex(previous)
    nodes.set(record.node_id, record)
    for (const capability of record.capabilities) {
      servingArrays.delete(capability.intent)
      let serving = byIntent.get(capability.intent)
      if (!serving) byIntent.set(capability.intent, (serving = new Map()))
      serving.set(record.node_id, record)
    }
  }
  for (const record of initial?.nodes ?? []) put(record)

  return {
    getNode: (nodeId) => Effect.sync(() => nodes.get(nodeId)),
    putNode: (record) => Effect.sync(() => put(record)),
    deleteNode: (nodeId) =>
      Effect.sync(() => {
        const previous = nodes.get(nodeId)
        if (previous) unindex(previous)
        nodes.delete(nodeId)
      }),
    nodesServing: (intent) =>
      Effect.sync(() => {
        let serving = servingArrays.get(intent)
        if (!serving) servingArrays.set(intent, (serving = [...(byIntent.get(intent)?.values() ?? [])]))
        return serving
      }),
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
