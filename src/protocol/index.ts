/** The protocol core: identifiers, URNs, trace context, errors, envelopes, wire schemas. */
export * from "./errors.js"
export * from "./envelope.js"
export * from "./ids.js"
export * from "./trace.js"
export * from "./urn.js"
export * as WireSchema from "./schema.js"
