/**
 * A whole mesh in one process: an embedded directory, one provider node with a custom handler,
 * and a client that routes a chat to it. In your project import from "iicp-mesh" instead of "../src".
 *
 * test/e2e/examples.test.ts runs it.
 */
import { IicpClient, IicpNode, startDirectory } from "../src/index.js"
import type { NodeTask } from "../src/index.js"

const OPERATOR_TOKEN = "example-operator-token"

/** A handler is any function from a task to an OpenAI chat completion. */
const shout = (task: NodeTask) => {
  const messages = task.payload["messages"] as Array<{ content: string }>
  const text = String(messages[messages.length - 1]?.content ?? "").toUpperCase()
  return {
    object: "chat.completion",
    model: "shout-1",
    choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 }
  }
}

/** Brings the mesh up, routes one chat, tears everything down; resolves with the answer. */
export const main = async (prompt = "hello, mesh"): Promise<string> => {
  const directory = await startDirectory({ port: 0, mode: "local", liveness: "off" })
  const node = new IicpNode({ nodeId: "example-node", model: "shout-1", directoryUrl: directory.url })
  // The operator token clients must present (access mode "token").
  const server = await node.serve(shout, { port: 0, host: "127.0.0.1", nodeToken: OPERATOR_TOKEN })
  const client = new IicpClient({ directoryUrl: directory.url, operatorToken: OPERATOR_TOKEN })
  try {
    // The node registers right after it listens.
    while (node.registration().nodeToken === undefined) await new Promise((r) => setTimeout(r, 20))
    const answer = await client.chat([{ role: "user", content: prompt }])
    return answer.choices[0]?.message.content ?? ""
  } finally {
    await client.close()
    await server.stop()
    await directory.stop()
  }
}
