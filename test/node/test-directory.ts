/**
 * A scriptable directory for node tests: records calls, answers register/heartbeat/deregister per
 * script. With `prefix` (e.g. "/api") it serves only `${prefix}/v1/*`; with `publicKeyHex` it also
 * serves `GET /v1/directory-key`.
 */
import { createServer } from "node:http"
import type { ServerResponse } from "node:http"
import { baseUrl, closeServer, listen, readJsonBody, routePath, sendJson } from "../../src/runtime/http-server.js"

/** How the directory answers one call: normally, with an error status, or never. */
export type Behaviour = "ok" | "hang" | number

export interface DirectoryCall {
  readonly method: string
  readonly path: string
  readonly authorization: string | undefined
  readonly body: Record<string, unknown>
}

export interface TestDirectoryOptions {
  readonly prefix?: string
  readonly publicKeyHex?: string
}

export const startTestDirectory = async (options: TestDirectoryOptions = {}) => {
  const prefix = options.prefix ?? ""
  const calls: Array<DirectoryCall> = []
  const script = { register: [] as Array<Behaviour>, heartbeat: [] as Array<Behaviour>, nextHeartbeatMs: 30_000 }
  const hung: Array<ServerResponse> = []
  /** `answering`: requests received and not yet answered, hung ones excluded. */
  const state = { issued: 0, openHeartbeats: 0, maxOpenHeartbeats: 0, answering: 0, hung: 0 }
  const server = createServer(async (req, res) => {
    state.answering += 1
    res.on("close", () => (state.answering -= 1))
    const read = await readJsonBody(req, 1 << 20)
    const body = (read._tag === "Ok" && read.value ? read.value : {}) as Record<string, unknown>
    const path = routePath(req.url)
    calls.push({ method: req.method ?? "", path, authorization: req.headers.authorization, body })
    // The route below the prefix; paths outside it are served nothing.
    const route = path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : undefined
    const answer = (behaviour: Behaviour, ok: () => void) => {
      if (behaviour === "hang") {
        state.answering -= 1
        state.hung += 1
        res.on("close", () => {
          state.answering += 1
          state.hung -= 1
        })
        return void hung.push(res)
      }
      if (typeof behaviour === "number") return sendJson(res, behaviour, { error: { code: `http_${behaviour}`, message: "scripted" } })
      ok()
    }
    if (req.method === "POST" && route === "/v1/register") {
      return answer(script.register.shift() ?? "ok", () =>
        sendJson(res, 201, {
          message_type: "ACK",
          node_id: body["node_id"],
          node_token: `dir-token-${++state.issued}`,
          node_hmac_key: "0".repeat(32),
          observed_source_ip: req.socket.remoteAddress,
          expires_at: null
        })
      )
    }
    if (req.method === "POST" && route === "/v1/heartbeat") {
      state.openHeartbeats += 1
      state.maxOpenHeartbeats = Math.max(state.maxOpenHeartbeats, state.openHeartbeats)
      res.on("close", () => (state.openHeartbeats -= 1))
      return answer(script.heartbeat.shift() ?? "ok", () => sendJson(res, 200, { ok: true, next_heartbeat_ms: script.nextHeartbeatMs }))
    }
    if (req.method === "DELETE" && route === "/v1/register") return sendJson(res, 200, { deregistered: true })
    if (req.method === "GET" && route === "/v1/directory-key" && options.publicKeyHex !== undefined) {
      return sendJson(res, 200, { public_key: options.publicKeyHex, algorithm: "ed25519" })
    }
    sendJson(res, 404, { error: { code: "not_found", message: "no route" } })
  })
  const port = await listen(server, 0, "127.0.0.1")
  return {
    url: baseUrl("127.0.0.1", port),
    calls,
    script,
    state,
    of: (method: string, path: string) => calls.filter((c) => c.method === method && c.path === path),
    close: async () => {
      for (const res of hung) res.destroy()
      server.closeAllConnections()
      await closeServer(server)
    }
  }
}

export type TestDirectory = Awaited<ReturnType<typeof startTestDirectory>>
