/**
 * Watching machines. Every actor host accepts an XState inspection observer, so users can attach the
 * Stately inspector (`createSkyInspector().inspect`, `createWebSocketInspector(...).inspect` from
 * `@statelyai/inspect`) or their own. These helpers turn inspection events into state names without
 * touching context or event payloads, so what they produce is safe to log.
 */
import type { InspectionEvent, Observer } from "xstate"

/** An inspection observer as XState's `inspect` option takes it. */
export type Inspect = Observer<InspectionEvent> | ((event: InspectionEvent) => void)

/** The dotted name of a state value: `{ running: "submitting" }` → `running.submitting`. */
export const stateName = (value: unknown): string => {
  if (typeof value === "string") return value
  if (typeof value === "object" && value !== null) {
    const [key, child] = Object.entries(value)[0] ?? []
    return key === undefined ? "" : `${key}.${stateName(child)}`
  }
  return ""
}

/** The innermost state of a dotted name: `running.submitting` → `submitting`. */
export const leafState = (name: string): string => name.slice(name.lastIndexOf(".") + 1)

/**
 * An observer calling `onState` with the dotted state name each time a *root* machine actor's
 * state changes (child actors such as invoked promises are ignored).
 */
export const onRootState = (onState: (state: string, actorId: string) => void): ((event: InspectionEvent) => void) => {
  const last = new Map<string, string>()
  return (event) => {
    if (event.type !== "@xstate.snapshot" || event.actorRef.sessionId !== event.rootId) return
    const value = (event.snapshot as { value?: unknown }).value
    if (value === undefined) return
    const state = stateName(value)
    if (last.get(event.rootId) === state) return
    last.set(event.rootId, state)
    onState(state, (event.actorRef as { id?: string }).id ?? event.rootId)
  }
}

/** One observer forwarding to several; `undefined` entries are skipped. */
export const combineInspect = (...observers: ReadonlyArray<Inspect | undefined>): ((event: InspectionEvent) => void) => {
  const present = observers.filter((o): o is Inspect => o !== undefined)
  return (event) => {
    for (const observer of present) {
      if (typeof observer === "function") observer(event)
      else observer.next?.(event)
    }
  }
}
