/**
 * What the directory keeps, and the storage interface behind it. The interface returns effects so a
 * database-backed store can replace the in-memory and file stores without touching the handlers.
 */
import { Context } from "effect"
import type { Effect } from "effect"
import type { SigningKeyPair } from "../../protocol/consumer-token.js"
import type { RankingView } from "../serving-index.js"

/** One capability as stored: the known members only (unknown ones are accepted and dropped, DIR-REG-08/09). */
export interface StoredCapability {
  readonly intent: string
  readonly models: ReadonlyArray<string>
  readonly max_tokens?: number
  readonly input_modalities?: ReadonlyArray<string>
}

/** An availability window (UTC `HH:MM` bounds) and the share of capacity offered inside it. */
export interface AvailabilityWindow {
  readonly start: string
  readonly end: string
  readonly share: number
}

/** Declared pricing (§5.2). */
export interface Pricing {
  readonly credit_cost_multiplier: number
  readonly pricing_model: "per_token" | "per_request" | "flat"
  readonly declaration_signature?: string
  readonly effective_from?: string
  readonly effective_until?: string
}

/** Register fields that are stored and echoed verbatim when present. */
export interface EchoedFields {
  readonly transport_endpoint?: string
  readonly transport_method?: string
  readonly transport_metadata?: unknown
  readonly nat_type?: string
  readonly exposure_mode?: string
  readonly relay_endpoint?: string
  readonly sdk_language?: unknown
  readonly sdk_version?: unknown
  readonly implementation_name?: unknown
  readonly implementation_version?: unknown
  readonly cx_public_key?: unknown
  readonly policy?: Readonly<Record<string, unknown>>
}

/** Whether the liveness probe of `{endpoint}/iicp/health` has passed (§6.11). */
export type LivenessState = "verified" | "pending"

/** What a node declares about itself on register (§6.3), as validated and as stored. */
export interface DeclaredNodeFields extends EchoedFields {
  readonly endpoint: string
  readonly region: string
  readonly capabilities: ReadonlyArray<StoredCapability>
  readonly max_concurrent: number
  readonly relay_capable: boolean
  readonly relay_accept_port?: number
  readonly availability?: ReadonlyArray<AvailabilityWindow>
  readonly pricing?: Pricing
}

/** A registered node. Times are epoch milliseconds on the directory's Effect clock. */
export interface NodeRecord extends DeclaredNodeFields {
  readonly node_id: string
  readonly node_hmac_key: string
  /** `scrypt$<salt hex>$<hash hex>` of the current node_token; the token itself is never stored (DIR-REG-07). */
  readonly token_hash: string
  readonly registered_at_ms: number
  readonly last_seen_ms: number
  readonly available: boolean
  readonly load?: number
  readonly active_jobs?: number
  readonly avg_latency_ms?: number
  /** Successful tasks reported in accepted metrics batches (QoS probation). */
  readonly tasks_completed?: number
  readonly liveness: LivenessState
  readonly reputation: number
  readonly reputation_window_start_ms: number
  readonly reputation_window_gain: number
  /** Recent `metrics_batch_id`s, newest last, so a batch counts once. */
  readonly metrics_batches: ReadonlyArray<string>
  readonly observed_source_ip: string
  /** The challenge of the last PONG, answered by the next beat's `challenge_response`. */
  readonly challenge?: string
  readonly challenge_failures: number
}

/** An immutable address-history row (DIR-ADDR-06). */
export interface AddressRow {
  readonly node_id: string
  readonly type: "register" | "heartbeat"
  readonly ip: string
  readonly at_ms: number
}

/** Storage for the directory. Implementations must keep `nodesServing` cheap: discover calls it on every request. */
export interface DirectoryStoreApi {
  readonly getNode: (nodeId: string) => Effect.Effect<NodeRecord | undefined>
  readonly putNode: (record: NodeRecord) => Effect.Effect<void>
  readonly deleteNode: (nodeId: string) => Effect.Effect<void>
  /** The ranking view of every node with a capability for exactly this intent; `undefined` when none has one. */
  readonly nodesServing: (intent: string) => Effect.Effect<RankingView | undefined>
  readonly allNodes: Effect.Effect<ReadonlyArray<NodeRecord>>
  /** Appends a history row; rows older than `retainSinceMs` may be dropped. */
  readonly appendAddress: (row: AddressRow, retainSinceMs: number) => Effect.Effect<void>
  readonly addressHistory: (nodeId: string) => Effect.Effect<ReadonlyArray<AddressRow>>
  readonly getSigningKey: Effect.Effect<SigningKeyPair | undefined>
  readonly putSigningKey: (keyPair: SigningKeyPair) => Effect.Effect<void>
  /** Writes anything pending to durable storage (no-op in memory). */
  readonly flush: Effect.Effect<void>
}

/** The directory's store, as an Effect service. */
export class DirectoryStore extends Context.Tag("iicp-mesh/DirectoryStore")<DirectoryStore, DirectoryStoreApi>() {}
