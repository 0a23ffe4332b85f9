import { createServer } from "node:net"
import { it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { describe, expect } from "vitest"
import { dial } from "../../src/directory/dial-back.js"
import { call, closedPort, directory } from "./helpers.js"

describe("rate limits and dial-back", () => {
  it.scoped("DIR-RL-01: the 61st register from one IP in 60 s → 429 rate_limited / IICP-E034 with retry hints; the window rolls", () =>
    Effect.gen(function* () {
      const dir = yield* directory({ liveness: "off" })
      // Behind a local proxy the forwarded address is the client (§6.1); the limit counts before the body is parsed.
      const from = (ip: string) => call(`${dir.url}/v1/register`, { body: {}, headers: { "x-forwarded-for": ip } })
      for (let i = 0; i < 30; i++) expect((yield* from("203.0.113.9")).status).toBe(422)
      yield* TestClock.adjust("19 seconds")
      for (let i = 0; i < 30; i++) expect((yield* from("203.0.113.9")).status).toBe(422)
      const limited = yield* from("203.0.113.9")
      expect(limited.status).toBe(429)
      expect(limited.json.error).toEqual({
        code: "rate_limited",
        iicp_code: "IICP-E034",
        message: "registration rate limit",
        retry_after: 41,
        retry_after_ms: 41000
      })
      expect(limited.headers.get("retry-after")).toBe("41")
      expect((yield* from("198.51.100.1")).status).toBe(422)
      yield* TestClock.adjust("41 seconds")
      // The first 30 left the window; 30 are still counted.
      expect((yield* from("203.0.113.9")).status).toBe(422)
    })
  )

  it.scoped("DIR-PROBE-01/02: loopback and private targets → 422 private_address in local mode too", () =>
    Effect.gen(function* () {
      const dir = yield* directory({ mode: "local" })
      for (const host of ["127.0.0.1", "10.0.0.1", "localhost", "192.168.1.1", "::1", "[::1]", "169.254.169.254", "fd00::1"]) {
        const reply = yield* call(`${dir.url}/v1/probe?host=${encodeURIComponent(host)}&port=8020`)
        expect(reply.status, host).toBe(422)
        expect(reply.json).toEqual({ reachable: false, error: { code: "private_address", message: "target is not a public address" } })
      }
    })
  )

  it.scoped("probe validation: port must be 80, 443 or 1024-65535 and host is required", () =>
    Effect.gen(function* () {
      const dir = yield* directory()
      for (const query of ["host=203.0.113.5&port=22", "host=203.0.113.5&port=70000", "host=203.0.113.5&port=x", "port=8020", "host=203.0.113.5"]) {
        const reply = yield* call(`${dir.url}/v1/probe?${query}`)
        expect(reply.status, query).toBe(422)
        expect(reply.json.error.code).toBe("validation_error")
      }
    })
  )

  it.scoped("probe limit: 30 per 60 s per client IP, then 429 with Retry-After", () =>
    Effect.gen(function* () {
      const dir = yield* directory()
      const probe = () => call(`${dir.url}/v1/probe?host=10.0.0.1&port=8020`)
      for (let i = 0; i < 30; i++) expect((yield* probe()).status).toBe(422)
      const limited = yield* probe()
      expect(limited.status).toBe(429)
      expect(limited.json.error.code).toBe("rate_limited")
      expect(limited.headers.get("retry-after")).toBe("60")
      yield* TestClock.adjust("60 seconds")
      expect((yield* probe()).status).toBe(422)
    })
  )

  it.scoped("dial: a listening port is reachable with a latency; a closed one is refused", () =>
    Effect.gen(function* () {
      const server = yield* Effect.acquireRelease(
        Effect.promise(
          () =>
            new Promise<{ close: () => void; port: number }>((resolve) => {
              const s = createServer((socket) => socket.end())
              s.listen(0, "127.0.0.1", () => {
                const address = s.address()
                resolve({ close: () => s.close(), port: typeof address === "object" && address ? address.port : 0 })
              })
            })
        ),
        (s) => Effect.sync(s.close)
      )
      const open = yield* dial("127.0.0.1", server.port)
      expect(open.reachable).toBe(true)
      expect(typeof open.latency_ms).toBe("number")
      expect(yield* dial("127.0.0.1", yield* closedPort())).toEqual({ reachable: false, latency_ms: null, error: "connect_refused" })
    })
  )
})
