/**
 * iicp-mesh/machines: one pure XState machine per concern. No I/O, no imports from the runtime:
 * side effects are named actors and actions that the runtime provides.
 */
export {}
export * from "./node-registration.js"
export * from "./task-lifecycle.js"
