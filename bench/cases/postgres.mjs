// Case 6: 1,000-event batches into the PostgreSQL store, 16 connections, 20% duplicates: one
// instance and two, next to raw pg on one connection.
import { COMPARE, log } from "../lib/args.mjs"
import { pgReachable, pgSchema, PG_URL, rawPg } from "../lib/ceilings.mjs"
import { load, measure } from "../lib/load.mjs"
import { r2 } from "../lib/proc.mjs"
import { compared, ratioRow, row } from "../lib/report.mjs"
import { startServer } from "../lib/subjects.mjs"
import { batchBody } from "../lib/traffic.mjs"

export const postgres = async () => {
  if (!(await pgReachable())) return log(`case 6 skipped: PostgreSQL at ${PG_URL} is unreachable`)
  const c = "6 PostgreSQL batches"
  log("case 6: 1,000-event batches into the PostgreSQL store, 16 connections, 20% duplicates")
  const ceiling = await rawPg(200)
  const oneInstance = async (run) => {
    const url = await pgSchema(run)
    return measure(() => startServer("unused", { EVENT_STORE: "postgres", DATABASE_URL: url }), 16, batchBody(run))
  }
  const twoInstances = async (run) => {
    const url = await pgSchema(run)
    const a = await startServer("unused", { EVENT_STORE: "postgres", DATABASE_URL: url })
    const b = await startServer("unused", { EVENT_STORE: "postgres", DATABASE_URL: url })
    try {
      const [ra, rb] = await Promise.all([load(a.url, 8, batchBody(`${run}a`)), load(b.url, 8, batchBody(`${run}b`))])
      return { rps: ra.rps + rb.rps, p99: Math.max(ra.p99, rb.p99) }
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
  }
  // One and two instances alternate (one, two, two, one), so a drift of the shared machine's
  // speed during the case weighs on both alike; each figure is the mean of its two runs.
  const one1 = await oneInstance("one1")
  const two1 = await twoInstances("two1")
  const two2 = await twoInstances("two2")
  const one2 = await oneInstance("one2")
  const one = (one1.rps + one2.rps) / 2
  const two = (two1.rps + two2.rps) / 2
  log(`case 6 runs (events/s): one instance ${one1.rps * 1000}, ${one2.rps * 1000}; two instances ${two1.rps * 1000}, ${two2.rps * 1000}`)
  row(c, "raw pg, unnest ON CONFLICT DO NOTHING, 10,000-row batches, 1 conn (ceiling)", ceiling, "events/s")
  ratioRow(c, "server, 1 instance (mean of 2 runs)", one * 1000, "events/s", "raw pg", ceiling, 0.6)
  row(c, "server, 1 instance, p99 latency (worst run)", Math.max(one1.p99, one2.p99), "ms")
  row(c, "server, 2 instances, 8 + 8 conn (mean of 2 runs)", two * 1000, "events/s", "1 instance", r2(two / one), "≥ 1.00", two >= one)
  if (COMPARE !== undefined) {
    await compared(c, "server, 1 instance", "events/s", async (tree, run) => {
      const url = await pgSchema(`cmp${run}`)
      return (await measure(() => startServer("unused", { EVENT_STORE: "postgres", DATABASE_URL: url }, tree), 16, batchBody(`cmp${run}`))).rps * 1000
    })
  }
}
