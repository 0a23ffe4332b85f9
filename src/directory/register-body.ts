/**
 * The register body (§6.3): legacy normalisation of the Rust SDK 0.2 flat form, then the field
 * table. Unknown members are ignored (DIR-REG-08/09); policy is checked after syntax.
 */
import { Either } from "effect"
import {
  DEFAULT_RELAY_ACCEPT_PORT,
  MAX_CAPABILITIES,
  MAX_CAPABILITY_MODELS,
  MAX_ENDPOINT_LENGTH,
  MAX_MODEL_NAME_LENGTH,
  MAX_PRICING_MULTIPLIER,
  MAX_REGION_LENGTH
} from "../constants.js"
import { isValidNodeId } from "../protocol/ids.js"
import { isRecord } from "../protocol/json.js"
import { isValidIntent, refusedRiskCategory } from "../protocol/urn.js"
import { DirectoryRefusal } from "./errors.js"
import type { AvailabilityWindow, DeclaredNodeFields, Pricing, StoredCapability } from "./store/types.js"

/** A validated register request. */
export interface RegisterRequest extends DeclaredNodeFields {
  readonly node_id?: string
  readonly node_hmac_key?: string
  readonly current_node_token?: string
}

const TRANSPORT_METHODS = new Set(["direct", "upnp_mapped", "stun_hole_punch", "turn_relay", "external_tunnel", "webrtc_datachannel"])
/** The reference node's placeholders, dropped rather than refused. */
const DROPPED_TRANSPORT_METHODS = new Set(["unknown", "unreachable"])
const NAT_TYPES = new Set(["full_cone", "restricted_cone", "port_restricted", "symmetric", "unknown"])
const EXPOSURE_MODES = new Set([
  "outbound_only",
  "ipv4_public_direct",
  "ipv4_cgnat_blocked",
  "ipv6_direct_firewall_required",
  "ipv6_direct_pinhole_available",
  "relay_required",
  "tunnel_required",
  "dual_stack_available"
])
const MODALITIES = new Set(["text", "image", "audio", "video"])
const PRICING_MODELS = new Set(["per_token", "per_request", "flat"])
const HHMM = /^([01][0-9]|2[0-3]):[0-5][0-9]$/

type Body = Readonly<Record<string, unknown>>

const isInteger = (value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): value is number =>
  typeof value === "number" && Number.isInteger(value) && value >= min && value <= max
const isNumberIn = (value: unknown, min: number, max: number): value is number =>
  typeof value === "number" && Number.isFinite(value) && value >= min && value <= max

class Invalid {
  constructor(readonly message: string) {}
}
const invalid = (message: string) => new Invalid(message)

/** Rebuilds the Rust SDK 0.2 flat body `{node_id, endpoint, intent, model?, region?, capabilities?: [string]}`. */
const normaliseLegacy = (body: Body): Body => {
  const capabilities = body["capabilities"]
  const legacy = capabilities === undefined || (Array.isArray(capabilities) && capabilities.some((c) => typeof c === "string"))
  if (!legacy || typeof body["intent"] !== "string") return body
  const names = [body["model"], ...(Array.isArray(capabilities) ? capabilities : [])].filter((n): n is string => typeof n === "string" && n !== "")
  return { ...body, capabilities: [{ intent: body["intent"], models: [...new Set(names)] }] }
}

const endpointOf = (value: unknown): string | Invalid => {
  if (typeof value !== "string" || value === "") return invalid("endpoint is required")
  if (value.length > MAX_ENDPOINT_LENGTH) return invalid(`endpoint longer than ${MAX_ENDPOINT_LENGTH} characters`)
  if (!URL.canParse(value)) return invalid("endpoint must be an absolute http or https URL")
  const url = new URL(value)
  if (url.protocol !== "http:" && url.protocol !== "https:") return invalid("endpoint must be an absolute http or https URL")
  if (url.username !== "" || url.password !== "" || value.includes("#")) return invalid("endpoint must not carry userinfo or a fragment")
  return value.replace(/\/+$/, "")
}

const capabilityOf = (value: unknown, index: number): StoredCapability | Invalid => {
  const at = `capabilities[${index}]`
  if (!isRecord(value)) return invalid(`${at} must be an object`)
  if (!isValidIntent(value["intent"])) return invalid(`${at}.intent is not a valid intent URN`)
  const models = value["models"] ?? []
  if (
    !Array.isArray(models) ||
    models.length > MAX_CAPABILITY_MODELS ||
    !models.every((m) => typeof m === "string" && m.length <= MAX_MODEL_NAME_LENGTH)
  ) {
    return invalid(`${at}.models must be at most ${MAX_CAPABILITY_MODELS} strings of at most ${MAX_MODEL_NAME_LENGTH} characters`)
  }
  const maxTokens = value["max_tokens"]
  if (maxTokens !== undefined && !isInteger(maxTokens, 1)) return invalid(`${at}.max_tokens must be an integer >= 1`)
  const modalities = value["input_modalities"]
  if (modalities !== undefined && (!Array.isArray(modalities) || !modalities.every((m) => typeof m === "string" && MODALITIES.has(m)))) {
    return invalid(`${at}.input_modalities must be a subset of text, image, audio, video`)
  }
  return {
    intent: value["intent"],
    models: models as Array<string>,
    ...(maxTokens === undefined ? {} : { max_tokens: maxTokens }),
    ...(modalities === undefined ? {} : { input_modalities: modalities as Array<string> })
  }
}

const capabilitiesOf = (value: unknown): ReadonlyArray<StoredCapability> | Invalid => {
  if (!Array.isArray(value) || value.length === 0) return invalid("capabilities is required (1 to 32 objects)")
  if (value.length > MAX_CAPABILITIES) return invalid(`at most ${MAX_CAPABILITIES} capabilities`)
  const out: Array<StoredCapability> = []
  for (const [index, item] of value.entries()) {
    const capability = capabilityOf(item, index)
    if (capability instanceof Invalid) return capability
    if (out.some((c) => c.intent === capability.intent)) return invalid(`duplicate capability intent ${capability.intent}`)
    out.push(capability)
  }
  return out
}

const availabilityOf = (value: unknown): ReadonlyArray<AvailabilityWindow> | Invalid => {
  const ok =
    Array.isArray(value) &&
    value.every((w) => isRecord(w) && typeof w["start"] === "string" && HHMM.test(w["start"]) && typeof w["end"] === "string" && HHMM.test(w["end"]) && isNumberIn(w["share"], 0, 1))
  if (!ok) return invalid("availability must be [{start: HH:MM, end: HH:MM, share: 0..1}]")
  return value.map((w: Body) => ({ start: w["start"] as string, end: w["end"] as string, share: w["share"] as number }))
}

const pricingOf = (value: unknown): Pricing | Invalid => {
  if (!isRecord(value) || !isNumberIn(value["credit_cost_multiplier"], 0, MAX_PRICING_MULTIPLIER)) {
    return invalid(`pricing.credit_cost_multiplier must be a number in 0..${MAX_PRICING_MULTIPLIER}`)
  }
  const model = value["pricing_model"]
  if (typeof model !== "string" || !PRICING_MODELS.has(model)) return invalid("pricing.pricing_model must be per_token, per_request or flat")
  const optional = (key: "declaration_signature" | "effective_from" | "effective_until") =>
    typeof value[key] === "string" ? { [key]: value[key] } : {}
  return {
    credit_cost_multiplier: value["credit_cost_multiplier"],
    pricing_model: model as Pricing["pricing_model"],
    ...optional("declaration_signature"),
    ...optional("effective_from"),
    ...optional("effective_until")
  }
}

const transportEndpointOf = (value: unknown): string | Invalid =>
  typeof value === "string" && URL.canParse(value) && /^iicp(sec)?:$/.test(new URL(value).protocol)
    ? value
    : invalid("transport_endpoint must be an iicp:// or iicpsec:// URL")

/** Members stored and echoed verbatim. */
const VERBATIM = ["sdk_language", "sdk_version", "implementation_name", "implementation_version", "cx_public_key", "transport_metadata"] as const

const parse = (body: Body): RegisterRequest | Invalid => {
  const endpoint = endpointOf(body["endpoint"])
  if (endpoint instanceof Invalid) return endpoint
  const capabilities = capabilitiesOf(body["capabilities"])
  if (capabilities instanceof Invalid) return capabilities

  const nodeId = body["node_id"]
  if (nodeId !== undefined && nodeId !== null && !isValidNodeId(nodeId)) return invalid("node_id must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,35}$")
  const region = body["region"] ?? "unknown"
  if (typeof region !== "string" || region.length > MAX_REGION_LENGTH) return invalid(`region must be a string of at most ${MAX_REGION_LENGTH} characters`)
  const limits = body["limits"]
  if (limits !== undefined && limits !== null && !isRecord(limits)) return invalid("limits must be an object")
  const maxConcurrent = isRecord(limits) ? (limits["max_concurrent"] ?? 1) : 1
  if (!isInteger(maxConcurrent, 0)) return invalid("limits.max_concurrent must be an integer >= 0")

  const method = body["transport_method"]
  if (method != null && !(typeof method === "string" && (TRANSPORT_METHODS.has(method) || DROPPED_TRANSPORT_METHODS.has(method)))) {
    return invalid("transport_method is not a known transport method")
  }
  const keepMethod = typeof method === "string" && TRANSPORT_METHODS.has(method)
  const natType = body["nat_type"]
  const exposure = body["exposure_mode"]
  if (exposure !== undefined && exposure !== null && !(typeof exposure === "string" && EXPOSURE_MODES.has(exposure))) {
    return invalid("exposure_mode is not a known exposure mode")
  }
  const transportEndpoint = body["transport_endpoint"] == null ? undefined : transportEndpointOf(body["transport_endpoint"])
  if (transportEndpoint instanceof Invalid) return transportEndpoint
  const relayEndpoint = body["relay_endpoint"]
  if (relayEndpoint != null && typeof relayEndpoint !== "string") return invalid("relay_endpoint must be a string")
  const relayCapable = body["relay_capable"] ?? false
  if (typeof relayCapable !== "boolean") return invalid("relay_capable must be a boolean")
  const relayPort = body["relay_accept_port"] ?? (relayCapable ? DEFAULT_RELAY_ACCEPT_PORT : undefined)
  if (relayPort !== undefined && !isInteger(relayPort, 1, 65_535)) return invalid("relay_accept_port must be an integer in 1..65535")
  const availability = body["availability"] == null ? undefined : availabilityOf(body["availability"])
  if (availability instanceof Invalid) return availability
  const pricing = body["pricing"] == null ? undefined : pricingOf(body["pricing"])
  if (pricing instanceof Invalid) return pricing
  const hmacKey = body["node_hmac_key"]
  if (hmacKey != null && !(typeof hmacKey === "string" && hmacKey.length >= 16 && hmacKey.length <= 128)) {
    return invalid("node_hmac_key must be 16 to 128 characters")
  }
  const policy = body["policy"]
  if (policy != null && !isRecord(policy)) return invalid("policy must be an object")
  const currentToken = body["current_node_token"]

  const verbatim: Record<string, unknown> = {}
  for (const key of VERBATIM) if (body[key] != null) verbatim[key] = body[key]
  return {
    ...verbatim,
    ...(typeof nodeId === "string" ? { node_id: nodeId } : {}),
    endpoint,
    region,
    capabilities,
    max_concurrent: maxConcurrent,
    relay_capable: relayCapable,
    ...(relayPort === undefined ? {} : { relay_accept_port: relayPort }),
    ...(keepMethod ? { transport_method: method } : {}),
    ...(typeof natType === "string" ? { nat_type: NAT_TYPES.has(natType) ? natType : "unknown" } : {}),
    ...(typeof exposure === "string" ? { exposure_mode: exposure } : {}),
    ...(transportEndpoint === undefined ? {} : { transport_endpoint: transportEndpoint }),
    ...(typeof relayEndpoint === "string" ? { relay_endpoint: relayEndpoint } : {}),
    ...(availability === undefined ? {} : { availability }),
    ...(pricing === undefined ? {} : { pricing }),
    ...(typeof hmacKey === "string" ? { node_hmac_key: hmacKey } : {}),
    ...(isRecord(policy) ? { policy } : {}),
    ...(typeof currentToken === "string" && currentToken !== "" ? { current_node_token: currentToken } : {})
  }
}

/** Parses a register body: 422 `validation_error` for a bad field, 422 `IICP-POLICY-001` for a refused intent. */
export const parseRegisterBody = (body: unknown): Either.Either<RegisterRequest, DirectoryRefusal> => {
  if (!isRecord(body)) return Either.left(new DirectoryRefusal({ reason: "validation", message: "register body must be a JSON object" }))
  const parsed = parse(normaliseLegacy(body))
  if (parsed instanceof Invalid) return Either.left(new DirectoryRefusal({ reason: "validation", message: parsed.message }))
  const refused = parsed.capabilities.find((c) => refusedRiskCategory(c.intent) !== undefined)
  if (refused) {
    const category = refusedRiskCategory(refused.intent)
    return Either.left(new DirectoryRefusal({ reason: "policy", message: `intent refused on the public mesh (${category})` }))
  }
  return Either.right(parsed)
}
