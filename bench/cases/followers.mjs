// Case 7: 100 SSE followers (one topic each, plus one that never reads) while 16 connections
// publish 1,000-event batches: throughput with and without them, commit-to-follower delay, RSS.
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { log, root } from "../lib/args.mjs"
import { load } from "../lib/load.mjs"
import { cpuSeconds, peakRss, percentile, r2 } from "../lib/proc.mjs"
import { row } from "../lib/report.mjs"
import { startServer } from "../lib/subjects.mjs"
import { stampedBody } from "../lib/traffic.mjs"

export const followers = async (dir) => {
  log("case 7: 100 SSE followers (one topic each) while 16 connections publish 1,000-event batches")
  // The same load, with no follower and then with 100 (and one more that never reads), alternating.
  const once = async (run, followers) => {
    const subject = await startServer(Path.join(dir, `follow-${run}.sqlite`))
    let child
    try {
      if (followers) {
        child = spawn(process.execPath, [Path.join(root, "bench/followers.mjs"), subject.url, "100", "f", "100", "--stalled", "--arrivals", Path.join(dir, `arrivals-${run}.json`)], {
          stdio: ["ignore", "pipe", "inherit"]
        })
        await new Promise((resolve, reject) => {
          child.stdout.once("data", (c) => (String(c).includes("ready") ? resolve() : reject(new Error(String(c)))))
          child.once("exit", (code) => reject(new Error(`followers exited ${code}`)))
        })
      }
      // CPU seconds used during the load by the server, the followers and this process (the load).
      const before = [cpuSeconds(subject.pid), child ? cpuSeconds(child.pid) : 0, process.cpuUsage()]
      const acks = new Map()
      const result = await load(subject.url, 16, stampedBody(run), { onAck: (batch, ms) => acks.set(batch, ms) })
      const own = process.cpuUsage(before[2])
      const cpu = {
        server: cpuSeconds(subject.pid) - before[0],
        followers: child ? cpuSeconds(child.pid) - before[1] : 0,
        load: (own.user + own.system) / 1e6
      }
      const rss = peakRss(subject.pid)
      let delays
      if (child !== undefined) {
        // Wait until nothing is pending and the followers have every event stored (10 s at most),
        // then ask for their figures.
        let out = ""
        child.stdout.on("data", (c) => (out += c))
        const received = async () => {
          out = ""
          child.kill("SIGUSR2")
          while (!out.includes("\n")) await new Promise((r) => child.stdout.once("data", r))
          return Number(/received (\d+)/.exec(out)[1])
        }
        const deadline = Date.now() + 10_000
        let stored
        for (;;) {
          const stats = await (await fetch(`${subject.url}/stats`)).json()
          stored = stats.unique_processed
          if ((stats.pending === 0 && await received() === stored) || Date.now() > deadline) break
          await new Promise((r) => setTimeout(r, 100))
        }
        out = ""
        const exited = new Promise((r) => child.once("close", r))
        child.kill("SIGTERM")
        await exited
        const figures = JSON.parse(out.trim())
        // Every event stored reached the follower of its topic (followers.mjs counts them).
        if (figures.received !== stored) throw new Error(`case 7: followers received ${figures.received} events, the server stored ${stored}`)
        const arrivals = JSON.parse(Fs.readFileSync(Path.join(dir, `arrivals-${run}.json`), "utf8"))
        // From the publisher's answer (sent once the batch is committed) to the follower's receipt.
        const fromAck = []
        for (let k = 0; k < arrivals.length; k += 2) {
          const ack = acks.get(arrivals[k])
          if (ack !== undefined) fromAck.push(arrivals[k + 1] - ack)
        }
        delays = { ...figures, fromAck: { p50: percentile(fromAck, 50), p99: percentile(fromAck, 99), max: percentile(fromAck, 100) } }
      }
      return { eventsPerSecond: result.rps * 1000, rss, delays, cpu }
    } finally {
      if (child !== undefined && child.exitCode === null) child.kill("SIGKILL")
      await subject.stop()
    }
  }
  const none1 = await once("none1", false)
  const with1 = await once("with1", true)
  const with2 = await once("with2", true)
  const none2 = await once("none2", false)
  const none = (none1.eventsPerSecond + none2.eventsPerSecond) / 2
  const withF = (with1.eventsPerSecond + with2.eventsPerSecond) / 2
  const worst = (key) => Math.max(with1.delays[key].p99, with2.delays[key].p99)
  log(`case 7 runs (events/s): no followers ${Math.round(none1.eventsPerSecond)}, ${Math.round(none2.eventsPerSecond)}; 100 followers ${Math.round(with1.eventsPerSecond)}, ${Math.round(with2.eventsPerSecond)}; delays ${JSON.stringify([with1.delays, with2.delays])}; CPU seconds ${JSON.stringify([none1, with1, with2, none2].map((r) => r.cpu))}`)
  row("7 followers", "server, no followers (mean of 2 runs)", none, "events/s", "", "", "", undefined)
  row("7 followers", "server, 100 SSE followers + 1 that never reads (mean of 2 runs)", withF, "events/s", "no followers", r2(withF / none), "≥ 0.80", withF / none >= 0.8)
  row("7 followers", "commit-to-follower delay p99: from the publisher's 200 (sent at commit) to the follower (worst run)", worst("fromAck"), "ms", "", "", "≤ 100 ms", worst("fromAck") <= 100)
  row("7 followers", "received_at-to-follower delay p99: received_at is stamped when the group's transaction begins (worst run)", worst("fromCommit"), "ms", "", "", "", undefined)
  row("7 followers", "publish-to-follower delay p99: from the payload's ts, set when the batch is built (worst run; includes queueing at saturation)", worst("fromPublish"), "ms", "", "", "", undefined)
  row("7 followers", "server peak RSS, no followers (worst run)", Math.max(none1.rss, none2.rss) / 2 ** 20, "MiB", "", "", "", undefined)
  row("7 followers", "server peak RSS, with followers and one that never reads (worst run)", Math.max(with1.rss, with2.rss) / 2 ** 20, "MiB", "no followers", r2(Math.max(with1.rss, with2.rss) / Math.max(none1.rss, none2.rss)), "", undefined)
}
