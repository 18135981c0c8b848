/** Plain aligned text tables for terminals. */
const line = (widths: ReadonlyArray<number>, cells: ReadonlyArray<string>) =>
  cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()

export const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  return [line(widths, headers), line(widths, widths.map((w) => "-".repeat(w))), ...rows.map((r) => line(widths, r))].join("\n")
}

/**
 * The same table printed as its rows arrive: the header goes out with the first rows, sized to
 * them, and a column widens when a later cell needs it (lines already printed stay as they are).
 * Returns the lines of each batch of rows, each ending with a newline.
 */
export const streaming = (headers: ReadonlyArray<string>) => {
  const widths = headers.map((h) => h.length)
  let started = false
  return (rows: Iterable<ReadonlyArray<string>>): string => {
    const lines: Array<string> = []
    const batch = Array.from(rows)
    for (const r of batch) {
      for (let i = 0; i < r.length; i++) widths[i] = Math.max(widths[i] ?? 0, r[i]!.length)
    }
    if (!started && batch.length > 0) {
      started = true
      lines.push(line(widths, headers), line(widths, widths.map((w) => "-".repeat(w))))
    }
    for (const r of batch) lines.push(line(widths, r))
    return lines.length === 0 ? "" : `${lines.join("\n")}\n`
  }
}
