// Cases 2 and 2u: 1,000-event batches, durable, 16 connections, 20% duplicates, with
// sequential-looking ids (2) or random UUIDv4 ids (2u). The ceiling is raw better-sqlite3
// inserting the very events the server acknowledged in that run (requests 0..N-1, N = the 2xx
// answers it gave during the load), as many, into the store's schema, in a fresh process after
// the server's run.
import * as Path from "node:path"
import { COMPARE, log } from "../lib/args.mjs"
import { rawSqlite, SERVER_CACHE } from "../lib/ceilings.mjs"
import { measure } from "../lib/load.mjs"
import { r2 } from "../lib/proc.mjs"
import { compared, ratioRow, row } from "../lib/report.mjs"
import { startOriginal, startServer } from "../lib/subjects.mjs"
import { batchBody } from "../lib/traffic.mjs"

/** The mean events per commit group, from the server's Prometheus histogram (undefined if absent). */
const meanGroup = async (url) => {
  const text = await fetch(`${url}/metrics`).then((r) => r.text(), () => "")
  const sum = /^event_aggregator_commit_batch_size_sum(?:\{[^}]*\})? ([\d.e+]+)/m.exec(text)
  const count = /^event_aggregator_commit_batch_size_count(?:\{[^}]*\})? ([\d.e+]+)/m.exec(text)
  return sum && count && Number(count[1]) > 0 ? Number(sum[1]) / Number(count[1]) : undefined
}

/** keys "seq" (case 2, 10,000-row ceiling transactions) or "uuid" (case 2u, 100,000-row). */
export const batches = async (dir, keys) => {
  const c = keys === "seq" ? "2 batches of 1,000" : "2u batches of 1,000, UUIDv4 ids"
  const tx = keys === "seq" ? 10_000 : 100_000
  log(`case ${keys === "seq" ? "2" : "2u"}: 1,000-event batches (${keys} ids), durable, 16 connections, 20% duplicates`)
  const orig = keys === "seq" ? await measure(() => startOriginal(Path.join(dir, "orig2.sqlite")), 16, batchBody("orig", keys)) : undefined
  const srv = await measure(() => startServer(Path.join(dir, `srv2${keys}.sqlite`)), 16, batchBody("srv", keys), async (s) => ({
    stats: await s.stats(),
    group: await meanGroup(s.url)
  }))
  const thread = await measure(() => startServer(Path.join(dir, `srv2${keys}t.sqlite`), { SQLITE_WRITER: "thread" }), 16, batchBody("srvt", keys))
  const { stats, group } = srv.after
  const requests = srv.acked
  const ceiling = await rawSqlite(Path.join(dir, `raw2${keys}.sqlite`), { run: "srv", keys, requests }, { tx })
  log(`case ${c}: server acknowledged ${srv.acked} requests (at the end: received ${stats.received} events, ${stats.unique_processed} stored, ${stats.pending} pending), mean commit group ${group === undefined ? "?" : Math.round(group)} events; raw ceiling inserted ${ceiling.inserted} of the same ${ceiling.events} in ${ceiling.seconds.toFixed(2)} s`)
  const eps = srv.rps * 1000
  row(c, `raw better-sqlite3, the server's ${ceiling.events} events (${ceiling.inserted} new), INSERT OR IGNORE, ${tx}-row tx, ${SERVER_CACHE / 2 ** 20} MiB cache (ceiling)`, ceiling.eventsPerSecond, "events/s")
  if (orig !== undefined) row(c, "original design (1 tx/request)", orig.rps * 1000, "events/s")
  ratioRow(c, `server, events/s vs ceiling (mean commit group ${group === undefined ? "?" : Math.round(group)})`, eps, "events/s", "raw better-sqlite3", ceiling.eventsPerSecond, 0.8)
  row(c, "server, p99 latency", srv.p99, "ms")
  row(c, `server with SQLITE_WRITER=thread (p99 ${thread.p99} ms)`, thread.rps * 1000, "events/s", "inline (default)", r2(thread.rps / srv.rps))
  if (orig !== undefined) row(c, "server vs original design", eps, "events/s", "original", r2(srv.rps / orig.rps), "≥ 2.00", srv.rps / orig.rps >= 2)
  if (COMPARE !== undefined) {
    await compared(c, "server", "events/s", async (tree, run) =>
      (await measure(() => startServer(Path.join(dir, `cmp2${keys}-${run}.sqlite`), {}, tree), 16, batchBody(`cmp${run}`, keys))).rps * 1000)
  }
}
