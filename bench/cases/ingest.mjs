// Cases 4 and 4u: the CLI's local `ingest` of an NDJSON file (LINES lines, 10% duplicates) with
// sequential-looking ids (4) or random UUIDv4 ids (4u), next to raw better-sqlite3 inserting the
// same file's events into the store's schema; the CLI's peak RSS. Case 5 (start-up) reuses case 4's database.
import * as Path from "node:path"
import { COMPARE, LINES, log, want } from "../lib/args.mjs"
import { rawSqlite, SERVER_CACHE } from "../lib/ceilings.mjs"
import { r2 } from "../lib/proc.mjs"
import { compared, ratioRow, row } from "../lib/report.mjs"
import { ingest as runIngest, startup } from "../lib/subjects.mjs"
import { writeNdjson } from "../lib/traffic.mjs"

export const ingest = async (dir, keys) => {
  const c = keys === "seq" ? "4 ingest" : "4u ingest, UUIDv4 ids"
  const tx = keys === "seq" ? 10_000 : 100_000
  log(`case ${keys === "seq" ? "4" : "4u"}: local ingest of a ${LINES}-line NDJSON file (${keys} ids)`)
  const file = Path.join(dir, `events-${keys}.ndjson`)
  await writeNdjson(file, LINES, keys)
  const db = Path.join(dir, `ingest-${keys}.sqlite`)
  const ing = await runIngest(file, db)
  const ceiling = await rawSqlite(Path.join(dir, `raw4${keys}.sqlite`), { file }, { tx })
  log(`case ${c}: ingest read ${ing.read}, accepted ${ing.accepted}; raw ceiling inserted ${ceiling.inserted} of ${ceiling.events} in ${ceiling.seconds.toFixed(2)} s`)
  if (ceiling.inserted !== ing.accepted) log(`case ${c}: WARNING the ceiling inserted ${ceiling.inserted} events, ingest accepted ${ing.accepted}`)
  row(c, `raw better-sqlite3, the same ${ceiling.events} events (${ceiling.inserted} new), INSERT OR IGNORE, ${tx}-row tx, ${SERVER_CACHE / 2 ** 20} MiB cache (ceiling)`, ceiling.eventsPerSecond, "events/s")
  ratioRow(c, "event-aggregator ingest (local)", ing.eventsPerSecond, "events/s", "raw better-sqlite3", ceiling.eventsPerSecond, 0.8)
  row(c, "ingest peak RSS", ing.peakRss / 2 ** 20, "MiB", "", "", "≤ 300 MB", ing.peakRss <= 300e6)
  const inline = await runIngest(file, Path.join(dir, `ingest-${keys}-inline.sqlite`), undefined, { SQLITE_WRITER: "inline" })
  row(c, `ingest with SQLITE_WRITER=inline (peak RSS ${Math.round(inline.peakRss / 2 ** 20)} MiB)`, inline.eventsPerSecond, "events/s", "writer thread (default)", r2(inline.eventsPerSecond / ing.eventsPerSecond))
  if (COMPARE !== undefined) {
    await compared(c, "ingest", "events/s", async (tree, run) =>
      (await runIngest(file, Path.join(dir, `ingest-cmp${keys}-${run}.sqlite`), tree)).eventsPerSecond)
  }
  if (keys === "seq" && want("5")) {
    log("case 5: start-up to /ready with the ingested events stored")
    const up = await startup(db)
    row("5 start-up", `spawn to /ready, ${up.stored} events stored`, up.seconds, "s", "", "", "≤ 1 s", up.seconds <= 1)
  }
}
