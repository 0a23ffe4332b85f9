/**
 * Client configuration (WIRE.md §4.1): defaults, the construction-time checks (SDK-04, SDK-05)
 * and directory URL normalisation.
 */
import { Effect } from "effect"
import type { InspectionEvent, Observer } from "xstate"
import { DEFAULT_CLIENT_TIMEOUT_MS, DEFAULT_DIRECTORY_URL, MAX_CLIENT_TIMEOUT_MS, MAX_TASK_ATTEMPTS, MIN_CLIENT_TASK_TIMEOUT_MS } from "../constants.js"
import { normalizeDirectoryUrl } from "../protocol/directory-url.js"
import { InvalidConfig } from "../protocol/errors.js"
import type { Logger } from "../runtime/log.js"
import { silentLogger } from "../runtime/log.js"

/** Options of the client. Only `directoryUrl` is commonly set; everything has a §4.1 default. */
export interface IicpClientConfig {
  /** Directory base, with or without `/api` and a trailing `/v1`; default `https://iicp.network/api`. */
  readonly directoryUrl?: string
  /** Per-task deadline in ms, all attempts included (plus the 2 s attempt grace of §1.4); default 30000, at most 120000. */
  readonly timeoutMs?: number
  /** Default discover region. */
  readonly region?: string
  /**
   * The most attempts one task makes in total, across candidates, the first included (the Python
   * reference SDK's `max_retries`): an integer 1–3, default 3 (SDK-01). 1 means no retry.
   */
  readonly maxRetries?: number
  /** Credential presented to nodes in `token` auth mode: `Authorization: Bearer` and `auth.node_token` (§4.4). */
  readonly operatorToken?: string
  /**
   * This client's own directory `node_token` (with `nodeId`): the Bearer credential of
   * `POST /v1/consumer-token` when `consumerAuth` is on (§4.4). Never sent to nodes.
   */
  readonly nodeToken?: string
  /** This client's own directory `node_id`, named in `X-Node-Id` when asking for consumer tokens. */
  readonly nodeId?: string
  /** Consumer tokens for nodes (§4.1): `off` (default), `optional` (continue without), `required` (skip the node without). */
  readonly consumerAuth?: ConsumerAuthMode
  /** `false` turns off TLS certificate checks; refused unless `IICP_ALLOW_INSECURE_TLS=1` (SDK-05). */
  readonly tlsVerify?: boolean
  /** XState inspection observer for every task actor (e.g. the Stately inspector's `inspect`). */
  readonly inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void)
  /** Where the client logs task ids and codes (never payloads or tokens); silent by default. */
  readonly logger?: Logger
}

/** Whether and how the client fetches directory-signed consumer tokens (§4.4). */
export type ConsumerAuthMode = "off" | "optional" | "required"

/** A validated configuration. */
export interface ResolvedClientConfig {
  readonly directoryUrl: string
  readonly timeoutMs: number
  readonly region: string | undefined
  readonly maxAttempts: number
  readonly operatorToken: string | undefined
  /** Set when consumer tokens are on. */
  readonly consumer: { readonly mode: "optional" | "required"; readonly nodeId: string; readonly nodeToken: string } | undefined
  readonly tlsVerify: boolean
  readonly inspect: IicpClientConfig["inspect"]
  readonly logger: Logger
  /** Strings scrubbed from every error the client raises. */
  readonly secrets: ReadonlyArray<string>
}

const invalid = (field: string, message: string) => Effect.fail(new InvalidConfig({ field, message }))

/** Checks and completes a configuration; fails with `InvalidConfig` (`invalid_config`). */
export const resolveClientConfig = (
  config: IicpClientConfig,
  env: Readonly<Record<string, string | undefined>> = process.env
): Effect.Effect<ResolvedClientConfig, InvalidConfig> =>
  Effect.gen(function* () {
    const directoryUrl = normalizeDirectoryUrl(config.directoryUrl ?? DEFAULT_DIRECTORY_URL)
    if (directoryUrl === undefined) return yield* invalid("directoryUrl", "directoryUrl must be an http(s) URL")
    const timeoutMs = config.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS
    if (!Number.isInteger(timeoutMs) || timeoutMs < MIN_CLIENT_TASK_TIMEOUT_MS || timeoutMs > MAX_CLIENT_TIMEOUT_MS) {
      return yield* invalid("timeoutMs", `timeoutMs must be an integer from ${MIN_CLIENT_TASK_TIMEOUT_MS} to ${MAX_CLIENT_TIMEOUT_MS}`)
    }
    const maxAttempts = config.maxRetries ?? MAX_TASK_ATTEMPTS
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > MAX_TASK_ATTEMPTS) {
      return yield* invalid("maxRetries", `maxRetries (attempts in total) must be an integer from 1 to ${MAX_TASK_ATTEMPTS}`)
    }
    const tlsVerify = config.tlsVerify ?? true
    if (!tlsVerify && env["IICP_ALLOW_INSECURE_TLS"] !== "1") {
      return yield* invalid("tlsVerify", "tlsVerify=false needs IICP_ALLOW_INSECURE_TLS=1 in the environment")
    }
    const consumerAuth = config.consumerAuth ?? "off"
    if (consumerAuth !== "off" && (!config.nodeId || !config.nodeToken)) {
      return yield* invalid("consumerAuth", "consumerAuth needs this client's own nodeId and nodeToken")
    }
    return {
      directoryUrl,
      timeoutMs,
      region: config.region,
      maxAttempts,
      operatorToken: config.operatorToken,
      consumer:
        consumerAuth === "off" || !config.nodeId || !config.nodeToken
          ? undefined
          : { mode: consumerAuth, nodeId: config.nodeId, nodeToken: config.nodeToken },
      tlsVerify,
      inspect: config.inspect,
      logger: config.logger ?? silentLogger,
      secrets: [config.operatorToken, config.nodeToken].filter((s): s is string => typeof s === "string" && s.length > 0)
    }
  })
