/**
 * A node keeps its id across restarts (WIRE.md §2.4, §5.1): the first start writes a fresh UUIDv4
 * to `<state dir>/node-id`, later starts read it back.
 */
import { randomUUID } from "node:crypto"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import { isValidNodeId } from "../protocol/ids.js"

/** Where `iicp serve` keeps its state when no `--state-dir` is given. */
export const defaultStateDir = (): string => join(homedir(), ".iicp")

/** The node id stored in `stateDir`, created on first use. A corrupt file is replaced. */
export const loadOrCreateNodeId = (stateDir: string): string => {
  const file = join(stateDir, "node-id")
  try {
    const stored = readFileSync(file, "utf8").trim()
    if (isValidNodeId(stored)) return stored
  } catch {
    // First start: no file yet.
  }
  const nodeId = randomUUID()
  mkdirSync(stateDir, { recursive: true, mode: 0o700 })
  writeFileSync(file, nodeId + "\n", { mode: 0o600 })
  return nodeId
}
