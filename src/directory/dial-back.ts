/**
 * `GET /v1/probe?host=&port=` (§6.8): a TCP connect back to a node's advertised address, 5 s. The
 * address guard applies in every mode (the probe would otherwise be an open connect oracle), and
 * each client IP gets 30 probes per 60 s.
 */
import { connect } from "node:net"
import { performance } from "node:perf_hooks"
import { Clock, Effect } from "effect"
import { PROBE_CONNECT_TIMEOUT_MS } from "../constants.js"
import { vetHost } from "./address-guard.js"
import type { Handler } from "./api.js"
import { DirectoryRefusal } from "./errors.js"

/** The result of one connect attempt. */
export type DialResult =
  | { readonly reachable: true; readonly latency_ms: number }
  | { readonly reachable: false; readonly latency_ms: null; readonly error: "connect_timeout" | "connect_refused" | "connect_failed" }

const isProbePort = (port: number): boolean => port === 80 || port === 443 || (port >= 1024 && port <= 65_535)

/** Tries a TCP connect to `address:port`; the timeout runs on the Effect clock, and interruption destroys the socket. */
export const dial = (address: string, port: number): Effect.Effect<DialResult> =>
  Effect.async<DialResult>((resume) => {
    const started = performance.now()
    const socket = connect({ host: address, port })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed({ reachable: true, latency_ms: Math.round(performance.now() - started) }))
    })
    socket.once("error", (error: NodeJS.ErrnoException) => {
      socket.destroy()
      const refused = error.code === "ECONNREFUSED"
      resume(Effect.succeed({ reachable: false, latency_ms: null, error: refused ? "connect_refused" : "connect_failed" }))
    })
    return Effect.sync(() => socket.destroy())
  }).pipe(
    Effect.timeoutTo({
      duration: PROBE_CONNECT_TIMEOUT_MS,
      onSuccess: (result): DialResult => result,
      onTimeout: (): DialResult => ({ reachable: false, latency_ms: null, error: "connect_timeout" })
    })
  )

/** `GET /v1/probe`. */
export const probe: Handler = (request, context) =>
  Effect.gen(function* () {
    const decision = context.limits.probe.take(request.clientIp, yield* Clock.currentTimeMillis)
    if (!decision.allowed) {
      return yield* new DirectoryRefusal({ reason: "rate_limited", message: "probe rate limit", retryAfterMs: decision.retryAfterMs })
    }
    const host = request.query.get("host") ?? ""
    const port = Number(request.query.get("port") ?? "")
    if (host === "" || !Number.isInteger(port) || !isProbePort(port)) {
      return yield* new DirectoryRefusal({ reason: "validation", message: "host is required and port must be 80, 443 or 1024-65535" })
    }
    const vetted = yield* vetHost(host, context.config.probeGuard)
    if (!vetted) {
      return {
        status: 422,
        body: { reachable: false, error: { code: "private_address", message: "target is not a public address" } }
      }
    }
    return { status: 200, body: yield* dial(vetted[0]!, port) }
  })
