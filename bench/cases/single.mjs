// Case 1: single-event POST /publish, durable, 64 connections: the server next to raw node:http
// (throughput and p99) and the original design.
import * as Path from "node:path"
import { COMPARE, log } from "../lib/args.mjs"
import { measure } from "../lib/load.mjs"
import { r2 } from "../lib/proc.mjs"
import { compared, ratioRow, row } from "../lib/report.mjs"
import { startOriginal, startRaw, startServer } from "../lib/subjects.mjs"
import { singleBody } from "../lib/traffic.mjs"

export const single = async (dir) => {
  const c = "1 single event"
  log("case 1: single-event POST /publish, durable, 64 connections")
  const raw = await measure(startRaw, 64, singleBody("raw"))
  const orig = await measure(() => startOriginal(Path.join(dir, "orig1.sqlite")), 64, singleBody("orig"))
  const srv = await measure(() => startServer(Path.join(dir, "srv1.sqlite")), 64, singleBody("srv"))
  const thread = await measure(() => startServer(Path.join(dir, "srv1t.sqlite"), { SQLITE_WRITER: "thread" }), 64, singleBody("srvt"))
  row(c, "raw node:http (ceiling)", raw.rps, "req/s")
  row(c, "raw node:http, p99 latency", raw.p99, "ms")
  row(c, "original design (1 tx/request)", orig.rps, "req/s")
  ratioRow(c, "server, req/s vs ceiling", srv.rps, "req/s", "raw node:http", raw.rps, 0.85)
  row(c, "server, p99 latency vs raw node:http's p99", srv.p99, "ms", "raw node:http p99", r2(srv.p99 / raw.p99), "≤ 2.00", srv.p99 <= 2 * raw.p99)
  row(c, "server vs original design", srv.rps, "req/s", "original", r2(srv.rps / orig.rps))
  row(c, `server with SQLITE_WRITER=thread (p99 ${thread.p99} ms)`, thread.rps, "req/s", "inline (default)", r2(thread.rps / srv.rps))
  if (COMPARE !== undefined) {
    await compared(c, "server", "req/s", async (tree, run) =>
      (await measure(() => startServer(Path.join(dir, `cmp1-${run}.sqlite`), {}, tree), 64, singleBody(`cmp${run}`))).rps)
  }
}
