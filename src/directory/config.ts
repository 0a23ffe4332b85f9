/** Directory options and the settings resolved from them (§6.1 modes). */
import type { Clock } from "effect"
import { DISCOVER_RESULT_CACHE_MS, MAX_JSON_BODY_BYTES } from "../constants.js"
import type { Logger } from "../runtime/log.js"
import type { GuardPolicy } from "./address-guard.js"
import type { DirectoryStoreApi } from "./store/types.js"

/** `production` enforces routable endpoints and strict liveness; `local` (embedded default) allows lab addresses. */
export type DirectoryMode = "local" | "production"

/** How the liveness probe of §6.11 runs on register. */
export type LivenessMode = "strict" | "deferred" | "off"

/** Options of an embedded directory. */
export interface DirectoryOptions {
  /** TCP port; 0 (default) picks an ephemeral one. */
  readonly port?: number
  /** Bind address; loopback unless configured (`127.0.0.1`). */
  readonly host?: string
  /** Default `local`. */
  readonly mode?: DirectoryMode
  /** `memory` (default without `dataDir`), `file` (default with `dataDir`), or a store of your own. */
  readonly store?: "memory" | "file" | DirectoryStoreApi
  /** Folder of the file store: nodes, token hashes, the signing key and address history survive restarts. */
  readonly dataDir?: string
  /** Overrides the mode's liveness probe: `strict` in production, `deferred` in local. */
  readonly liveness?: LivenessMode
  /** Overrides the mode's endpoint routability check (§6.10): on in production, off in local. */
  readonly routableEndpointsOnly?: boolean
  /** The public base URL (without `/api`): `directory` in ACKs and `iss` of tokens. Default: the bound URL. */
  readonly publicUrl?: string
  /** JSON body cap in bytes (default 1 MiB). */
  readonly maxBodyBytes?: number
  /** Applies the QoS probation filter (interactive: 100 completed tasks; realtime: 1000 and reputation ≥ 0.8). Default off. */
  readonly qosProbation?: boolean
  /** How long a computed discover answer is reused while its intent is unchanged; 0 disables (default 1000 ms). */
  readonly discoverCacheMs?: number
  readonly logger?: Logger
  /** The clock directory time runs on (Promise API only; the Effect API uses the runtime's clock). */
  readonly clock?: Clock.Clock
}

/** Settings after applying the mode's defaults. */
export interface DirectoryConfig {
  readonly mode: DirectoryMode
  readonly liveness: LivenessMode
  /** Set when endpoints must be routable (§6.10); also guards the liveness probe's connections. */
  readonly endpointGuard: GuardPolicy | undefined
  /** The `/v1/probe` guard, which applies in every mode. */
  readonly probeGuard: GuardPolicy
  readonly maxBodyBytes: number
  readonly discoverCacheMs: number
  readonly qosProbation: boolean
}

/** Applies the mode's defaults (§6.1). */
export const resolveConfig = (options: DirectoryOptions): DirectoryConfig => {
  const mode = options.mode ?? "local"
  const production = mode === "production"
  const documentationRangesPublic = !production
  return {
    mode,
    liveness: options.liveness ?? (production ? "strict" : "deferred"),
    endpointGuard: (options.routableEndpointsOnly ?? production) ? { documentationRangesPublic } : undefined,
    probeGuard: { documentationRangesPublic },
    maxBodyBytes: options.maxBodyBytes ?? MAX_JSON_BODY_BYTES,
    discoverCacheMs: options.discoverCacheMs ?? DISCOVER_RESULT_CACHE_MS,
    qosProbation: options.qosProbation ?? false
  }
}
