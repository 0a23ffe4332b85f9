/**
 * SEC-TLS-01: outbound HTTPS requires TLS 1.3. Real TLS servers on 127.0.0.1 with a self-signed
 * test certificate (test/fixtures, CN=localhost), one capped at TLS 1.2.
 */
import { readFileSync } from "node:fs"
import { createServer } from "node:https"
import type { Server } from "node:https"
import type { AddressInfo } from "node:net"
import { Effect, Exit } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { createAgent, httpJson } from "../../src/runtime/http-client.js"

const key = readFileSync(new URL("../fixtures/localhost-key.pem", import.meta.url))
const cert = readFileSync(new URL("../fixtures/localhost-cert.pem", import.meta.url))

const servers: Array<Server> = []
const httpsServer = (maxVersion: "TLSv1.2" | "TLSv1.3"): Promise<string> =>
  new Promise((resolve) => {
    const server = createServer({ key, cert, maxVersion }, (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" })
      res.end('{"ok":true}')
    })
    servers.push(server)
    server.listen(0, "127.0.0.1", () => resolve(`https://127.0.0.1:${(server.address() as AddressInfo).port}/`))
  })

afterAll(() => {
  for (const server of servers) server.close()
})

describe("TLS minimum version", () => {
  // The certificate is self-signed, so verification is off here; the version floor applies regardless.
  const agent = createAgent({ rejectUnauthorized: false })

  it("talks to a TLS 1.3 server", async () => {
    const url = await httpsServer("TLSv1.3")
    const res = await Effect.runPromise(httpJson(agent, { method: "GET", url, timeoutMs: 5_000 }))
    expect(res).toMatchObject({ status: 200, body: { ok: true } })
  })

  it("refuses a server that offers at most TLS 1.2", async () => {
    const url = await httpsServer("TLSv1.2")
    const exit = await Effect.runPromiseExit(httpJson(agent, { method: "GET", url, timeoutMs: 5_000 }))
    expect(Exit.isFailure(exit)).toBe(true)
  })

  it("verifies certificates by default: a self-signed server is refused", async () => {
    const url = await httpsServer("TLSv1.3")
    const exit = await Effect.runPromiseExit(httpJson(createAgent(), { method: "GET", url, timeoutMs: 5_000 }))
    expect(Exit.isFailure(exit)).toBe(true)
  })
})
