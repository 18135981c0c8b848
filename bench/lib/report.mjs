// The result rows: a table on stdout and a JSON file in bench/results.
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { COMPARE, LINES, log, ONLY, root, ROUNDS, SECONDS, SYNCHRONOUS } from "./args.mjs"
import { median, r2 } from "./proc.mjs"

export const rows = []

/**
 * One row: `value` in `unit`; for a row with a target, `baseline` names what `ratio` compares to,
 * and `pass` says whether the target is met (PASS / FALL SHORT); `pass` undefined for no target.
 */
export const row = (c, subject, value, unit, baseline = "", ratio = "", target = "", pass = undefined) =>
  rows.push({ case: c, subject, value: r2(value), unit, baseline, ratio, target, result: pass === undefined ? "" : pass ? "PASS" : "FALL SHORT" })

/** A ratio row against a target: `value / ceiling ≥ min`. */
export const ratioRow = (c, subject, value, unit, baseline, ceiling, min) =>
  row(c, subject, value, unit, baseline, r2(value / ceiling), `≥ ${min.toFixed(2)}`, value / ceiling >= min)

/**
 * This tree against the compared one on the same measurement: ROUNDS rounds, alternating (this,
 * that, this, that, ...), so the shared machine's drift weighs on both; medians and their ratio.
 */
export const compared = async (c, subject, unit, measureTree) => {
  const ours = []
  const theirs = []
  for (let round = 0; round < ROUNDS; round++) {
    ours.push(await measureTree(root, `a${round}`))
    theirs.push(await measureTree(COMPARE, `b${round}`))
  }
  log(`${c} compared: this tree ${ours.map(Math.round).join(", ")}; compared tree ${theirs.map(Math.round).join(", ")} ${unit}`)
  row(c, `${subject}, compared tree (median of ${ROUNDS})`, median(theirs), unit)
  row(c, `${subject}, this tree (median of ${ROUNDS})`, median(ours), unit, "compared tree", r2(median(ours) / median(theirs)))
}

export const machine = () =>
  ({ cpus: Os.cpus().length, model: Os.cpus()[0]?.model, memGiB: Math.round(Os.totalmem() / 2 ** 30), node: process.version })

/** Writes `result` (with date, machine, settings) to bench/results/`file`. */
export const writeResult = (file, result) => {
  Fs.mkdirSync(Path.join(root, "bench/results"), { recursive: true })
  const full = { date: new Date().toISOString(), machine: machine(), settings: { seconds: SECONDS, lines: LINES, synchronous: SYNCHRONOUS }, ...result }
  Fs.writeFileSync(Path.join(root, "bench/results", file), JSON.stringify(full, null, 2) + "\n")
  log(`wrote bench/results/${file}`)
}

/** The table on stdout and the results file: latest.json for a full run, only-….json / …-compared.json otherwise. */
export const finish = () => {
  console.table(rows)
  // A partial run (--only) does not replace the full run's results.
  const file = ONLY === undefined && COMPARE === undefined
    ? "latest.json"
    : `${ONLY === undefined ? "all" : `only-${[...ONLY].sort().join("-")}`}${COMPARE === undefined ? "" : "-compared"}.json`
  writeResult(file, { rows })
}
