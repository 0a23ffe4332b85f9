/**
 * The liveness probe (§6.11): `GET {endpoint}/iicp/health`, 5 s, no redirects, TLS verified; any
 * 2xx passes. When the address guard applies, the connection goes only to addresses the guard
 * vetted at connect time, so a name cannot be re-pointed at a private address after the check.
 */
import { lookup as dnsLookup } from "node:dns"
import type { LookupAddress } from "node:dns"
import type { LookupFunction } from "node:net"
import { Effect } from "effect"
import { Agent } from "undici"
import { LIVENESS_PROBE_KEEP_ALIVE_MS, LIVENESS_PROBE_TIMEOUT_MS } from "../constants.js"
import { httpJson } from "../runtime/http-client.js"
import { isPublicAddress, vetHost } from "./address-guard.js"
import type { GuardPolicy } from "./address-guard.js"

/** Probes node health endpoints. */
export interface LivenessProber {
  /** Whether `{endpoint}/iicp/health` answers 2xx within the timeout. */
  readonly isAlive: (endpoint: string) => Effect.Effect<boolean>
  readonly close: Effect.Effect<void>
}

const refusedAddress = () => Object.assign(new Error("address refused by the routability guard"), { code: "ENOTFOUND" })

const guardedLookup =
  (policy: GuardPolicy): LookupFunction =>
  (hostname, options, callback) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, answers: Array<LookupAddress>) => {
      if (error) return callback(error, "", 0)
      if (answers.length === 0 || !answers.every((answer) => isPublicAddress(answer.address, policy))) {
        return callback(refusedAddress(), "", 0)
      }
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: Array<LookupAddress>) => void)(null, answers)
      callback(null, answers[0]!.address, answers[0]!.family)
    })
  }

/** A prober; with `guard` set, only addresses the routability guard accepts are contacted. */
export const createLivenessProber = (guard: GuardPolicy | undefined): LivenessProber => {
  const agent = new Agent({
    keepAliveTimeout: LIVENESS_PROBE_KEEP_ALIVE_MS,
    connect: { timeout: LIVENESS_PROBE_TIMEOUT_MS, ...(guard ? { lookup: guardedLookup(guard) } : {}) }
  })
  const probe = (endpoint: string) =>
    httpJson(agent, { method: "GET", url: `${endpoint.replace(/\/+$/, "")}/iicp/health`, timeoutMs: LIVENESS_PROBE_TIMEOUT_MS }).pipe(
      Effect.map((response) => response.status >= 200 && response.status < 300),
      Effect.orElseSucceed(() => false)
    )
  return {
    isAlive: (endpoint) => {
      if (!guard) return probe(endpoint)
      return Effect.flatMap(vetHost(new URL(endpoint).hostname, guard), (vetted) => (vetted ? probe(endpoint) : Effect.succeed(false)))
    },
    close: Effect.promise(() => agent.close())
  }
}
