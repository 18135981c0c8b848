// npm run bench: every figure next to a baseline measured in the same run, PASS/FALL SHORT against
// the targets, a table on stdout and bench/results/latest.json. Needs a build (npm install does it).
// Cases (bench/cases/*, helpers in bench/lib/*; see bench/README.md):
//   1  single events, 64 conn: server vs raw node:http (req/s and p99) and the original design
//   2  1,000-event batches, 16 conn, 20% duplicates: server vs raw better-sqlite3 on the same events
//   2u the same with random UUIDv4 ids
//   4  local `ingest` of --lines NDJSON lines: CLI vs raw better-sqlite3 on the same file; peak RSS
//   4u the same with random UUIDv4 ids
//   5  start-up to /ready on case 4's database
//   6  PostgreSQL batches, one instance and two, vs raw pg
//   7  100 SSE followers during batches
// Usage: node bench/run.mjs [--seconds N] [--lines N] [--only 1,2u,6] [--compare DIR [--rounds N]]
//   --only 1,2u,6: some cases (a partial run writes only-1-2u-6.json)
//   --compare DIR: also runs cases 1, 2, 2u, 4, 4u and 6 (one instance) against the build in DIR (another
//                  checkout, `npm ci` done there): --rounds N (default 3) rounds alternating this
//                  tree and that one, the median of each, and this tree / that tree.
//   --soak [--soak-minutes N] [--rate EVENTS_PER_S]: the soak alone (bench/cases/soak.mjs), 10
//                  minutes by default; writes soak.json (soak-Nmin.json for other lengths).
//   BENCH_PROFILE=DIR: each server (and ingest) under test writes a CPU profile into DIR when it stops
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { batches } from "./cases/batches.mjs"
import { followers } from "./cases/followers.mjs"
import { ingest } from "./cases/ingest.mjs"
import { postgres } from "./cases/postgres.mjs"
import { single } from "./cases/single.mjs"
import { soak } from "./cases/soak.mjs"
import { log, SECONDS, SOAK, SOAK_MINUTES, SYNCHRONOUS, want } from "./lib/args.mjs"
import { dropPgSchemas } from "./lib/ceilings.mjs"
import { finish, rows, writeResult } from "./lib/report.mjs"

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "ea-bench-"))
try {
  log(`machine: ${Os.cpus().length} × ${Os.cpus()[0]?.model}, ${Math.round(Os.totalmem() / 2 ** 30)} GiB, node ${process.version}; ${SECONDS}s per load, synchronous=${SYNCHRONOUS}`)
  if (SOAK) {
    const series = await soak(dir)
    console.table(rows)
    writeResult(SOAK_MINUTES === 10 ? "soak.json" : `soak-${SOAK_MINUTES}min.json`, { soakMinutes: SOAK_MINUTES, rows, ...series })
  } else {
    if (want("1")) await single(dir)
    if (want("2")) await batches(dir, "seq")
    if (want("2u")) await batches(dir, "uuid")
    if (want("4")) await ingest(dir, "seq")
    if (want("4u")) await ingest(dir, "uuid")
    if (want("6")) await postgres()
    if (want("7")) await followers(dir)
    finish()
  }
} finally {
  Fs.rmSync(dir, { recursive: true, force: true })
  await dropPgSchemas()
}
