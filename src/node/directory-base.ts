/**
 * The base URL every directory call of the node is made against (WIRE.md §4.1): the configured one,
 * until a register that answered 404 there succeeded at `${base}/api`; from then on that one, for
 * heartbeats, deregistration and the directory key as well.
 */
import { Context, Effect, Layer } from "effect"
import { NodeSettings } from "./config.js"

/** The node's current directory base. */
export interface DirectoryBaseRef {
  /** The base calls use now (`${base}/v1/<op>`); `undefined` when no directory is configured. */
  readonly current: () => string | undefined
  /** Keeps `base` for every later call. */
  readonly adopt: (base: string) => void
}

/** The directory base as an Effect service, shared by registration and authentication. */
export class DirectoryBase extends Context.Tag("iicp-mesh/DirectoryBase")<DirectoryBase, DirectoryBaseRef>() {
  /** Starts at the configured (normalised) `directoryUrl`. */
  static readonly layer: Layer.Layer<DirectoryBase, never, NodeSettings> = Layer.effect(
    DirectoryBase,
    Effect.map(NodeSettings, (config) => makeDirectoryBase(config.directoryUrl))
  )
}

/** A base holder starting at `initial`. */
export const makeDirectoryBase = (initial: string | undefined): DirectoryBaseRef => {
  let base = initial
  return {
    current: () => base,
    adopt: (next) => {
      base = next
    }
  }
}
