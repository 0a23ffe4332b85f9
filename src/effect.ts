/**
 * iicp-mesh/effect: every role as Effect services (`Context.Tag`) with `layer` constructors.
 */
export * from "./protocol/index.js"
export * from "./client/effect.js"
export * from "./node/effect.js"
export * from "./directory/effect.js"
