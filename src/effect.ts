/**
 * iicp-mesh/effect: every role as Effect services (`Context.Tag`) with `layer` constructors.
 */
export * from "./protocol/index.js"
export * from "./client/effect.js"
export * from "./node/effect.js"
export * from "./directory/effect.js"
export { createLogger, LOG_LEVELS, silentLogger } from "./runtime/log.js"
export type { LogFields, Logger, LogLevel } from "./runtime/log.js"
export { combineInspect, leafState, onRootState, stateName } from "./runtime/inspector.js"
export type { Inspect } from "./runtime/inspector.js"
