/**
 * iicp-mesh: the Promise API. Route AI agent tasks by intent across an IICP mesh.
 * The Effect API (services and layers) is `iicp-mesh/effect`; the pure machines are `iicp-mesh/machines`.
 */
export * from "./protocol/index.js"
export * from "./client/index.js"
export * from "./node/index.js"
export * from "./directory/index.js"
export { createLogger, LOG_LEVELS, silentLogger } from "./runtime/log.js"
export type { LogFields, Logger, LogLevel } from "./runtime/log.js"
export { combineInspect, leafState, onRootState, stateName } from "./runtime/inspector.js"
export type { Inspect } from "./runtime/inspector.js"
