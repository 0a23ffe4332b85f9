/**
 * Terminal output: a spinner for waits on a TTY and plain lines otherwise, aligned tables, JSON for
 * scripts. Status goes to stderr so stdout stays the command's answer.
 */

/** Where a command writes. */
export interface Output {
  readonly json: boolean
  /** The command's answer (stdout). */
  readonly print: (text: string) => void
  /** A status line (stderr); suppressed in JSON mode. */
  readonly status: (text: string) => void
  /** Runs `work` under a spinner line on a TTY, or prints the label once otherwise. */
  readonly waitFor: <A>(label: string, work: () => Promise<A>) => Promise<A>
}

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]
const SPINNER_INTERVAL_MS = 80

/** An output on the process streams. */
export const processOutput = (json: boolean): Output => {
  const tty = process.stderr.isTTY === true && !json
  const status = (text: string) => {
    if (!json) process.stderr.write(text + "\n")
  }
  return {
    json,
    print: (text) => process.stdout.write(text + "\n"),
    status,
    waitFor: async (label, work) => {
      if (!tty) {
        status(`${label}...`)
        return work()
      }
      let frame = 0
      const timer = setInterval(() => process.stderr.write(`\r${FRAMES[frame++ % FRAMES.length]} ${label}`), SPINNER_INTERVAL_MS)
      try {
        const out = await work()
        process.stderr.write(`\r✓ ${label}\x1b[K\n`)
        return out
      } catch (error) {
        process.stderr.write(`\r✗ ${label}\x1b[K\n`)
        throw error
      } finally {
        clearInterval(timer)
      }
    }
  }
}

/** A plain-text table with aligned columns. */
export const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string | number>>): string => {
  const cells = [headers, ...rows.map((r) => r.map(String))]
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)))
  const line = (r: ReadonlyArray<string>) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()
  return [line(cells[0]!), line(widths.map((w) => "-".repeat(w))), ...cells.slice(1).map(line)].join("\n")
}
