/**
 * Node configuration: the options a user passes, validated once into the resolved form every node
 * service reads (WIRE.md §5.2, §5.7, §5.8).
 */
import { Context, Either } from "effect"
import { randomUUID } from "node:crypto"
import {
  DRAIN_TIMEOUT_MS,
  MAX_JSON_BODY_BYTES,
  MAX_QUEUE_WAIT_MS,
  NODE_DEFAULT_MAX_CONCURRENT,
  OPEN_MODE_RATE_LIMIT,
  OPEN_MODE_RATE_WINDOW_MS
} from "../constants.js"
import { normalizeDirectoryUrl } from "../protocol/directory-url.js"
import { InvalidConfig } from "../protocol/errors.js"
import { isValidNodeId } from "../protocol/ids.js"
import { isValidIntent } from "../protocol/urn.js"
import type { Inspect } from "../runtime/inspector.js"
import type { Logger } from "../runtime/log.js"
import { createLogger } from "../runtime/log.js"

/** Who may submit tasks (§5.7). */
export type AccessMode = "open" | "token" | "token+consumer"

/** A capacity window in node local time (§5.8): `HH:MM` bounds, inclusive, may span midnight. */
export interface AvailabilityWindow {
  readonly start: string
  readonly end: string
  /** Fraction of `maxConcurrent` offered inside the window, 0–1. */
  readonly share: number
}

/** Options of a provider node. */
export interface NodeOptions {
  /** Stable node id (§2.4); a UUIDv4 is generated when absent. */
  readonly nodeId?: string
  /** The base URL clients reach this node at; defaults to the URL `serve` binds. */
  readonly endpoint?: string
  /** Intent(s) served; default `urn:iicp:intent:llm:chat:v1`. */
  readonly intent?: string | ReadonlyArray<string>
  /** Model name(s) advertised; the first is the default model of the OpenAI backend. */
  readonly model?: string | ReadonlyArray<string>
  readonly region?: string
  /**
   * Directory base URL, with or without `/api` and a trailing `/v1` (§4.1); without it the node
   * serves but never registers.
   */
  readonly directoryUrl?: string
  /** Tasks run at once (§5.8); default 4. `0` refuses every task. */
  readonly maxConcurrent?: number
  readonly tokensPerMin?: number
  /** `max_tokens` advertised per capability. */
  readonly maxTokens?: number
  /** Auth mode; default `token` when an operator token is set, else `open` (§5.7 Decision). */
  readonly access?: AccessMode
  /** The operator token clients present in `token` modes (Bearer, `auth.node_token` or `auth.token`). */
  readonly operatorToken?: string
  /** How long realtime/interactive tasks may wait for a slot, 0–2000 ms; default 0. */
  readonly queueWaitMs?: number
  /** JSON body cap; default 1 MiB. */
  readonly maxBodyBytes?: number
  readonly availability?: ReadonlyArray<AvailabilityWindow>
  /** Requests per window per client IP and per Origin in `open` mode. */
  readonly openRateLimit?: { readonly limit: number; readonly windowMs: number }
  /** Bound on draining in-flight tasks at stop; default 10 s. */
  readonly drainTimeoutMs?: number
  /** Where the node logs (ids and codes only, never payloads). */
  readonly logger?: Logger
  /** XState inspection observer for the registration actor (e.g. the Stately inspector's `inspect`). */
  readonly inspect?: Inspect
}

/** The validated configuration every node service reads. */
export interface NodeConfig {
  readonly nodeId: string
  readonly endpoint: string | undefined
  readonly intents: ReadonlyArray<string>
  readonly models: ReadonlyArray<string>
  readonly region: string
  /** The normalised directory base (§4.1): calls go to `${directoryUrl}/v1/<op>`. */
  readonly directoryUrl: string | undefined
  readonly maxConcurrent: number
  readonly tokensPerMin: number | undefined
  readonly maxTokens: number | undefined
  /** `undefined`: decided when serving, by whether an operator token is set (§5.7 Decision). */
  readonly access: AccessMode | undefined
  readonly operatorToken: string | undefined
  readonly queueWaitMs: number
  readonly maxBodyBytes: number
  readonly availability: ReadonlyArray<AvailabilityWindow>
  readonly openRateLimit: { readonly limit: number; readonly windowMs: number }
  readonly drainTimeoutMs: number
  readonly logger: Logger
  readonly inspect: Inspect | undefined
}

/** The node's configuration as an Effect service. */
export class NodeSettings extends Context.Tag("iicp-mesh/NodeSettings")<NodeSettings, NodeConfig>() {}

const HH_MM = /^([01][0-9]|2[0-3]):[0-5][0-9]$/

const list = (value: string | ReadonlyArray<string> | undefined): ReadonlyArray<string> =>
  value === undefined ? [] : typeof value === "string" ? [value] : [...value]

const isNonNegativeInt = (value: number): boolean => Number.isInteger(value) && value >= 0

const check = (ok: boolean, field: string, message: string): InvalidConfig | undefined =>
  ok ? undefined : new InvalidConfig({ field, message })

/** Validates options; the first problem found is the error. */
export const resolveNodeConfig = (options: NodeOptions): Either.Either<NodeConfig, InvalidConfig> => {
  const intents = list(options.intent ?? "urn:iicp:intent:llm:chat:v1")
  const windows = options.availability ?? []
  const directoryUrl = options.directoryUrl === undefined ? undefined : normalizeDirectoryUrl(options.directoryUrl)
  const problem =
    check(options.nodeId === undefined || isValidNodeId(options.nodeId), "nodeId", "nodeId must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,35}$") ??
    check(intents.length > 0 && intents.every(isValidIntent), "intent", "every intent must be a valid IICP intent URN") ??
    check(options.endpoint === undefined || /^https?:\/\/[^/]/i.test(options.endpoint), "endpoint", "endpoint must be an http(s) URL") ??
    check(options.directoryUrl === undefined || directoryUrl !== undefined, "directoryUrl", "directoryUrl must be an http(s) URL") ??
    check(options.maxConcurrent === undefined || isNonNegativeInt(options.maxConcurrent), "maxConcurrent", "maxConcurrent must be an integer ≥ 0") ??
    check(
      options.queueWaitMs === undefined || (isNonNegativeInt(options.queueWaitMs) && options.queueWaitMs <= MAX_QUEUE_WAIT_MS),
      "queueWaitMs",
      `queueWaitMs must be an integer 0–${MAX_QUEUE_WAIT_MS}`
    ) ??
    check(options.maxBodyBytes === undefined || (Number.isInteger(options.maxBodyBytes) && options.maxBodyBytes > 0), "maxBodyBytes", "maxBodyBytes must be a positive integer") ??
    check(options.maxTokens === undefined || (Number.isInteger(options.maxTokens) && options.maxTokens >= 1), "maxTokens", "maxTokens must be an integer ≥ 1") ??
    check(
      windows.every((w) => HH_MM.test(w.start) && HH_MM.test(w.end) && w.share >= 0 && w.share <= 1),
      "availability",
      "availability windows need HH:MM bounds and a share 0–1"
    ) ??
    check(options.access !== "token+consumer" || options.directoryUrl !== undefined, "directoryUrl", "token+consumer needs a directoryUrl for the directory key")
  if (problem) return Either.left(problem)
  const operatorToken = options.operatorToken === "" ? undefined : options.operatorToken
  return Either.right({
    nodeId: options.nodeId ?? randomUUID(),
    endpoint: options.endpoint?.replace(/\/+$/, ""),
    intents,
    models: list(options.model),
    region: options.region ?? "unknown",
    directoryUrl,
    maxConcurrent: options.maxConcurrent ?? NODE_DEFAULT_MAX_CONCURRENT,
    tokensPerMin: options.tokensPerMin,
    maxTokens: options.maxTokens,
    access: options.access,
    operatorToken,
    queueWaitMs: options.queueWaitMs ?? 0,
    maxBodyBytes: options.maxBodyBytes ?? MAX_JSON_BODY_BYTES,
    availability: windows,
    openRateLimit: options.openRateLimit ?? { limit: OPEN_MODE_RATE_LIMIT, windowMs: OPEN_MODE_RATE_WINDOW_MS },
    drainTimeoutMs: options.drainTimeoutMs ?? DRAIN_TIMEOUT_MS,
    logger: options.logger ?? createLogger({ component: "node" }),
    inspect: options.inspect
  })
}
