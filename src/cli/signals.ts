/** Running until Ctrl-C: resolves on the first SIGINT or SIGTERM. */

/** Resolves with the signal's name when the process is asked to stop. */
export const untilSignal = (): Promise<NodeJS.Signals> =>
  new Promise((resolve) => {
    const done = (signal: NodeJS.Signals) => {
      process.off("SIGINT", done)
      process.off("SIGTERM", done)
      resolve(signal)
    }
    process.once("SIGINT", done)
    process.once("SIGTERM", done)
  })
