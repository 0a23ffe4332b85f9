/**
 * Shared HTTP server plumbing for the node and the directory (WIRE.md §1.2): body caps, JSON
 * responses, path normalisation, typed listen errors, and a guard so a handler fault answers 500
 * without a stack trace instead of crashing the process.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http"
import { errorEnvelope } from "../protocol/envelope.js"
import type { EnvelopeExtras } from "../protocol/envelope.js"

/** Outcome of reading a JSON body. */
export type JsonBody =
  | { readonly _tag: "Ok"; readonly value: unknown; readonly raw: Buffer }
  | { readonly _tag: "TooLarge" }
  | { readonly _tag: "Malformed" }

/** Reads the whole body, refusing more than `maxBytes` (checked on `Content-Length` first, then while streaming). */
const readBody = (req: IncomingMessage, maxBytes: number): Promise<Buffer | "too_large"> =>
  new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"])
    if (Number.isFinite(declared) && declared > maxBytes) {
      req.resume()
      resolve("too_large")
      return
    }
    const chunks: Array<Buffer> = []
    let size = 0
    let done = false
    req.on("data", (chunk: Buffer) => {
      if (done) return
      size += chunk.length
      if (size > maxBytes) {
        done = true
        chunks.length = 0
        resolve("too_large")
        return
      }
      chunks.push(chunk)
    })
    req.on("end", () => {
      if (!done) {
        done = true
        resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size))
      }
    })
    req.on("error", (error) => {
      if (!done) {
        done = true
        reject(error)
      }
    })
  })

/** Reads and parses a JSON body under a cap. An empty body parses as `undefined`. */
export const readJsonBody = async (req: IncomingMessage, maxBytes: number): Promise<JsonBody> => {
  const raw = await readBody(req, maxBytes)
  if (raw === "too_large") return { _tag: "TooLarge" }
  if (raw.length === 0) return { _tag: "Ok", value: undefined, raw }
  try {
    return { _tag: "Ok", value: JSON.parse(raw.toString("utf8")), raw }
  } catch {
    return { _tag: "Malformed" }
  }
}

/** The first value of a request header, `undefined` when absent or empty. */
export const headerOf = (headers: IncomingMessage["headers"], name: string): string | undefined => {
  const value = headers[name]
  return (Array.isArray(value) ? value[0] : value) || undefined
}

/** Writes a JSON response with `Content-Length` (never chunked). */
export const sendJson = (
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string | number>> = {}
): void => {
  sendRaw(res, status, Buffer.from(JSON.stringify(body)), headers)
}

/** Writes a pre-serialised JSON body. */
export const sendRaw = (
  res: ServerResponse,
  status: number,
  body: Buffer,
  headers: Readonly<Record<string, string | number>> = {}
): void => {
  if (res.headersSent) {
    res.end()
    return
  }
  res.writeHead(status, { "content-type": "application/json", "content-length": body.length, ...headers })
  res.end(body)
}

/** Writes the §3.1 error envelope. */
export const sendError = (
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  extras: EnvelopeExtras = {},
  headers: Readonly<Record<string, string | number>> = {}
): void => sendJson(res, status, errorEnvelope(code, message, extras), headers)

/**
 * The routing path of a request target: query dropped, repeated slashes collapsed, one trailing
 * slash tolerated (§1.2).
 */
export const routePath = (url: string | undefined): string => {
  const raw = url ?? "/"
  const q = raw.indexOf("?")
  let path = (q === -1 ? raw : raw.slice(0, q)).replace(/\/{2,}/g, "/")
  if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1)
  return path === "" ? "/" : path
}

/** The query parameters of a request target. */
export const queryOf = (url: string | undefined): URLSearchParams => {
  const raw = url ?? ""
  const q = raw.indexOf("?")
  return new URLSearchParams(q === -1 ? "" : raw.slice(q + 1))
}

/** A failure to bind a listening socket. */
export class ListenError extends Error {
  override readonly name = "ListenError"
  constructor(
    readonly reason: "address_in_use" | "permission_denied" | "other",
    message: string
  ) {
    super(message)
  }
}

/** Binds `server` and resolves with the bound port; a bind failure rejects with a {@link ListenError}. */
export const listen = (server: Server, port: number, host: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off("listening", onListening)
      const reason = error.code === "EADDRINUSE" ? "address_in_use" : error.code === "EACCES" ? "permission_denied" : "other"
      reject(new ListenError(reason, `cannot listen on ${host}:${port} (${error.code ?? "error"})`))
    }
    const onListening = () => {
      server.off("error", onError)
      const address = server.address()
      resolve(typeof address === "object" && address ? address.port : port)
    }
    server.once("error", onError)
    server.once("listening", onListening)
    server.listen(port, host)
  })

/** Closes a server, ending idle keep-alive sockets so `close` does not wait for clients. */
export const closeServer = (server: Server): Promise<void> =>
  new Promise((resolve) => {
    server.close(() => resolve())
    server.closeIdleConnections()
  })

/** The URL a server bound on `host:port` is reached at (IPv6 in brackets). */
export const baseUrl = (host: string, port: number): string =>
  `http://${host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`

/**
 * Wraps a request handler so a thrown or rejected fault answers 500 `internal_error` with a
 * generic message, never the error itself (SEC-LEAK-01/02).
 */
export const guarded =
  (handler: (req: IncomingMessage, res: ServerResponse) => Promise<void> | void, onFault?: (error: unknown) => void) =>
  (req: IncomingMessage, res: ServerResponse): void => {
    const fail = (error: unknown) => {
      onFault?.(error)
      if (!res.headersSent) sendError(res, 500, "internal_error", "internal error")
      else res.destroy()
    }
    try {
      const out = handler(req, res)
      if (out) out.catch(fail)
    } catch (error) {
      fail(error)
    }
  }
