/** Shared helpers of the node tests: a node on 127.0.0.1 port 0 and a JSON HTTP caller. */
import { randomUUID } from "node:crypto"
import { request } from "undici"
import { IicpNode } from "../../src/node/index.js"
import type { IicpNodeOptions, NodeServer, ServeOptions, TaskHandler } from "../../src/node/index.js"
import { createLogger } from "../../src/runtime/log.js"

export const CHAT = "urn:iicp:intent:llm:chat:v1"

/** Every log line a node wrote during a test. */
export const captureLogs = () => {
  const lines: Array<string> = []
  return { lines, logger: createLogger({ level: "debug", component: "node", sink: (line) => lines.push(line) }) }
}

/** A node serving `handler` on an ephemeral port; its logs are captured. */
export const startTestNode = async (
  handler: TaskHandler,
  options: Partial<IicpNodeOptions> = {},
  serve: ServeOptions = {}
): Promise<{ node: IicpNode; server: NodeServer; url: string; logs: Array<string> }> => {
  const { lines, logger } = captureLogs()
  const node = new IicpNode({ intent: CHAT, model: "echo", logger, ...options })
  const server = await node.serve(handler, { port: 0, host: "127.0.0.1", ...serve })
  return { node, server, url: server.url, logs: lines }
}

/** A valid chat task body. */
export const chatTask = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  task_id: randomUUID(),
  intent: CHAT,
  payload: { messages: [{ role: "user", content: "hello node" }] },
  constraints: { timeout_ms: 5_000 },
  ...overrides
})

export interface Answer {
  readonly status: number
  readonly headers: Record<string, string | undefined>
  readonly text: string
  /** Parsed body; `any` keeps the many deep assertions readable (a mismatch fails the assertion anyway). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly json: any
}

/** Sends one request and reads the whole answer. */
export const call = async (
  url: string,
  options: { method?: string; body?: unknown; raw?: string | Buffer; headers?: Record<string, string>; signal?: AbortSignal } = {}
): Promise<Answer> => {
  const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body))
  const res = await request(url, {
    method: (options.method ?? (payload === undefined ? "GET" : "POST")) as "GET",
    headers: { ...(payload === undefined ? {} : { "content-type": "application/json" }), ...options.headers },
    body: payload ?? null,
    ...(options.signal ? { signal: options.signal } : {})
  })
  const text = await res.body.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  const headers: Record<string, string | undefined> = {}
  for (const [k, v] of Object.entries(res.headers)) headers[k] = Array.isArray(v) ? v.join(", ") : v
  return { status: res.statusCode, headers, text, json }
}

/** Resolves after `ms` of real time (only for waiting on real sockets, never for protocol timers). */
export const realDelay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls `check` in real time until it holds or `timeoutMs` passes. */
export const eventually = async (check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> => {
  const until = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > until) throw new Error("condition not met in time")
    await realDelay(10)
  }
}
