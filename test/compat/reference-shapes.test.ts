/**
 * WIRE.md §11: what the Python reference SDK 0.7.3 and the Rust SDK send and answer, reproduced
 * byte-level over raw sockets (those SDKs cannot be installed here), against our client and node.
 */
import { connect, createServer } from "node:net"
import type { AddressInfo, Server } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { IicpClient } from "../../src/client/index.js"
import { echoBackend, IicpNode } from "../../src/node/index.js"
import type { NodeServer } from "../../src/node/index.js"
import { silentLogger } from "../../src/runtime/log.js"

/** Sends raw bytes and collects everything until the server closes the connection. */
const rawExchange = (port: number, bytes: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.end(bytes))
    let out = ""
    socket.on("data", (d) => (out += d.toString()))
    socket.on("end", () => resolve(out))
    socket.on("error", reject)
  })

const httpRequest = (version: "1.0" | "1.1", path: string, body: object, headers: Record<string, string> = {}) => {
  const json = JSON.stringify(body)
  const lines = [`POST ${path} HTTP/${version}`, "Host: 127.0.0.1", "Content-Type: application/json", `Content-Length: ${Buffer.byteLength(json)}`]
  if (version === "1.1") lines.push("Connection: close")
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`)
  return `${lines.join("\r\n")}\r\n\r\n${json}`
}

const statusOf = (raw: string) => Number(raw.slice(9, 12))
const bodyOf = (raw: string) => JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4)) as Record<string, unknown>

describe("our node with reference and Rust request shapes", () => {
  const TOKEN = "op-token-for-compat"
  let server: NodeServer

  beforeAll(async () => {
    const node = new IicpNode({ nodeId: "compat-node", logger: silentLogger })
    server = await node.serve(echoBackend(), { port: 0, host: "127.0.0.1", nodeToken: TOKEN })
  })
  afterAll(() => server?.stop())

  const messages = [{ role: "user", content: "compat" }]

  it("Python reference client: HTTP/1.0, `//v1/task`, constraints.qos_class, auth.node_token, no Bearer", async () => {
    const task = { task_id: "0F8FAD5B-D9CB-469F-A165-70867728950E", intent: "urn:iicp:intent:llm:chat:v1", payload: { messages }, constraints: { timeout_ms: 30000, qos_class: "batch" }, auth: { node_token: TOKEN } }
    const raw = await rawExchange(server.port, httpRequest("1.0", "//v1/task", task))
    expect(statusOf(raw)).toBe(200)
    expect(raw).toMatch(/content-type: application\/json/i)
    expect(bodyOf(raw)).toMatchObject({ task_id: task.task_id, status: "success" })
  })

  it("Rust SDK: no constraints, auth.token plus Bearer, HTTP/1.1", async () => {
    const task = { task_id: "6ba7b810-9dad-11d1-80b4-00c04fd430c8", intent: "urn:iicp:intent:llm:chat:v1", payload: { messages }, auth: { token: TOKEN } }
    const raw = await rawExchange(server.port, httpRequest("1.1", "/v1/task", task, { Authorization: `Bearer ${TOKEN}` }))
    expect(statusOf(raw)).toBe(200)
    expect(bodyOf(raw)).toMatchObject({ task_id: task.task_id, status: "success" })
  })

  it("an unknown `+modifier` intent from an old client is a 422 validation_error, not a crash", async () => {
    const task = { task_id: "6ba7b810-9dad-11d1-80b4-00c04fd430c8", intent: "urn:iicp:intent:llm:chat:v1+attested", payload: { messages }, auth: { token: TOKEN } }
    const raw = await rawExchange(server.port, httpRequest("1.1", "/v1/task", task))
    expect(statusOf(raw)).toBe(422)
    expect(bodyOf(raw)).toMatchObject({ error: { code: "validation_error" } })
  })
})

describe("our client against a reference-style node", () => {
  let referenceNode: Server
  let directory: Server
  let connections = 0
  const seen: Array<string> = []

  /** The reference node's habits: HTTP/1.0, close after every response, `completed`, top-level `choices`. */
  const answerLikeReference = (request: string): string => {
    const json = request.slice(request.indexOf("\r\n\r\n") + 4)
    const task = JSON.parse(json) as { task_id: string; payload: { messages: Array<{ content: string }> } }
    const body = JSON.stringify({
      task_id: task.task_id,
      status: "completed",
      choices: [{ message: { content: `ref: ${task.payload.messages[0]!.content}` } }],
      usage: { total_tokens: 7 }
    })
    return `HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  }

  beforeAll(async () => {
    referenceNode = createServer((socket) => {
      connections++
      let buffer = ""
      socket.on("data", (d) => {
        buffer += d.toString()
        const head = buffer.indexOf("\r\n\r\n")
        if (head === -1) return
        const length = Number(/content-length: (\d+)/i.exec(buffer.slice(0, head))?.[1] ?? 0)
        if (Buffer.byteLength(buffer.slice(head + 4)) < length) return
        seen.push(buffer.slice(0, head))
        socket.end(answerLikeReference(buffer))
      })
    })
    await new Promise<void>((r) => referenceNode.listen(0, "127.0.0.1", r))
    const nodeUrl = `http://127.0.0.1:${(referenceNode.address() as AddressInfo).port}`
    // The Rust directory's envelope: `count` required, string error form on failures.
    directory = createServer((socket) => {
      socket.once("data", () => {
        const body = JSON.stringify({ nodes: [{ node_id: "py-node", endpoint: nodeUrl + "/", score: 0.9, region: "eu", available: true, load: 0 }], count: 1 })
        socket.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
      })
    })
    await new Promise<void>((r) => directory.listen(0, "127.0.0.1", r))
  })

  afterAll(() => {
    referenceNode?.close()
    directory?.close()
  })

  it("reads `completed` with top-level choices over HTTP/1.0 connections closed after every answer", async () => {
    const client = new IicpClient({ directoryUrl: `http://127.0.0.1:${(directory.address() as AddressInfo).port}` })
    try {
      for (const n of [1, 2, 3]) {
        const chat = await client.chat([{ role: "user", content: `q${n}` }])
        expect(chat.choices[0]?.message).toEqual({ role: "assistant", content: `ref: q${n}` })
        expect(chat.usage.total_tokens).toBe(7)
        expect(chat.node_id).toBe("py-node")
      }
    } finally {
      await client.close()
    }
    expect(connections).toBe(3)
    // Content-Length bodies (the reference node reads nothing else), no double slash from the trailing `/`.
    for (const head of seen) {
      expect(head).toMatch(/^POST \/v1\/task HTTP\/1\.1/)
      expect(head).toMatch(/content-length: \d+/i)
      expect(head).not.toMatch(/transfer-encoding/i)
      expect(head).toMatch(/traceparent: 00-[0-9a-f]{32}-[0-9a-f]{16}-01/i)
    }
  })
})
