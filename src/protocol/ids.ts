/** Task and node identifiers (WIRE.md §2.2, §2.4). */
import { randomUUID } from "node:crypto"

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const UUID_V4_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const NODE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,35}$/

/** A lowercase UUIDv4 for a new task (PROTO-MSG-01). */
export const newTaskId = (): string => randomUUID()

/** Any textual RFC 4122 UUID, any version, any case: what a node accepts as `task_id`. */
export const isUuid = (value: unknown): value is string => typeof value === "string" && UUID_PATTERN.test(value)

/** A lowercase UUIDv4, as our client emits. */
export const isUuidV4 = (value: unknown): value is string => typeof value === "string" && UUID_V4_PATTERN.test(value)

/** A node id: a UUID or a custom id matching §2.4. */
export const isValidNodeId = (value: unknown): value is string => typeof value === "string" && NODE_ID_PATTERN.test(value)
