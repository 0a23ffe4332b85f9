/**
 * The routable-address guard (§6.10): which hosts a production directory accepts as endpoints and
 * which targets the dial-back probe may connect to. Names are resolved and every address must pass.
 */
import { lookup } from "node:dns/promises"
import { Effect } from "effect"
import ipaddr from "ipaddr.js"

const cidrs = (list: ReadonlyArray<string>) => list.map((cidr) => ipaddr.parseCIDR(cidr))

const REJECTED_V4 = cidrs([
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "224.0.0.0/4",
  "240.0.0.0/4"
])
const DOCUMENTATION_V4 = cidrs(["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"])
const REJECTED_V6 = cidrs(["::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8"])
const DOCUMENTATION_V6 = cidrs(["2001:db8::/32"])
const NAT64 = ipaddr.parseCIDR("64:ff9b::/96")
const REJECTED_SUFFIXES = [".localhost", ".local", ".test", ".example", ".invalid", ".lan", ".internal"]

/** Guard settings: whether the documentation ranges count as public (local mode, §6.1). */
export interface GuardPolicy {
  readonly documentationRangesPublic: boolean
}

const matchesAny = (address: ipaddr.IPv4 | ipaddr.IPv6, ranges: ReadonlyArray<[ipaddr.IPv4 | ipaddr.IPv6, number]>) =>
  ranges.some((range) => address.kind() === range[0].kind() && address.match(range))

/** Whether an IP literal is a public unicast address under `policy`; anything unparsable is not. */
export const isPublicAddress = (ip: string, policy: GuardPolicy): boolean => {
  if (!ipaddr.isValid(ip)) return false
  const address = ipaddr.parse(ip)
  if (address.kind() === "ipv6") {
    const v6 = address as ipaddr.IPv6
    if (v6.isIPv4MappedAddress()) return isPublicAddress(v6.toIPv4Address().toString(), policy)
    if (v6.match(NAT64)) return isPublicAddress(ipaddr.fromByteArray(v6.toByteArray().slice(12)).toString(), policy)
    if (matchesAny(v6, REJECTED_V6)) return false
    return policy.documentationRangesPublic || !matchesAny(v6, DOCUMENTATION_V6)
  }
  if (matchesAny(address, REJECTED_V4)) return false
  return policy.documentationRangesPublic || !matchesAny(address, DOCUMENTATION_V4)
}

/** Whether a host name (not an IP literal) is one of the never-routable names. */
const isNonRoutableName = (host: string): boolean =>
  host === "localhost" || !host.includes(".") || REJECTED_SUFFIXES.some((suffix) => host.endsWith(suffix))

/** Strips IPv6 brackets and a trailing dot, lower-cases. */
const bareHost = (host: string): string => host.replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "").toLowerCase()

/**
 * The vetted addresses of `host` when it is routable: the literal itself, or every address it
 * resolves to (all must be public). `undefined` when refused.
 */
export const vetHost = (host: string, policy: GuardPolicy): Effect.Effect<ReadonlyArray<string> | undefined> => {
  const name = bareHost(host)
  if (ipaddr.isValid(name)) return Effect.succeed(isPublicAddress(name, policy) ? [ipaddr.parse(name).toString()] : undefined)
  if (isNonRoutableName(name)) return Effect.succeed(undefined)
  return Effect.tryPromise(() => lookup(name, { all: true, verbatim: true })).pipe(
    Effect.map((answers) => {
      const addresses = answers.map((answer) => answer.address)
      return addresses.length > 0 && addresses.every((address) => isPublicAddress(address, policy)) ? addresses : undefined
    }),
    Effect.orElseSucceed(() => undefined)
  )
}
