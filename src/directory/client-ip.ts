/**
 * The client IP (§6.1): the TCP peer, unless the peer is a loopback or private address (a local
 * reverse proxy), in which case `CF-Connecting-IP`, else the first `X-Forwarded-For` entry, wins.
 */
import type { IncomingHttpHeaders } from "node:http"
import ipaddr from "ipaddr.js"
import { headerOf } from "../runtime/http-server.js"

const TRUSTED_PROXY_RANGES = new Set(["loopback", "private", "uniqueLocal", "linkLocal"])

const normalised = (ip: string | undefined): string | undefined => {
  const candidate = ip?.trim().replace(/^\[(.*)\]$/, "$1")
  return candidate && ipaddr.isValid(candidate) ? ipaddr.process(candidate).toString() : undefined
}

/** The client IP of a request whose TCP peer is `peer`. */
export const clientIpOf = (peer: string | undefined, headers: IncomingHttpHeaders): string => {
  const tcpPeer = normalised(peer) ?? "unknown"
  if (tcpPeer === "unknown" || !TRUSTED_PROXY_RANGES.has(ipaddr.parse(tcpPeer).range())) return tcpPeer
  return normalised(headerOf(headers, "cf-connecting-ip")) ?? normalised(headerOf(headers, "x-forwarded-for")?.split(",")[0]) ?? tcpPeer
}
