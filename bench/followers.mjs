// SSE followers for the bench, in a process of their own: N connections to GET /events/stream,
// follower i on topic `${prefix}${i % topics}` (or all topics when topics is 0). Prints
// "ready" once every stream is open; on SIGTERM prints one JSON line: events received, how many
// per follower, the delivery delays (ms) from the stored received_at and from publish
// (the payload's `ts`, set when the request was built), as percentiles.
// On SIGUSR2 prints "received N" (events so far).
// Usage: node bench/followers.mjs URL N TOPIC_PREFIX TOPICS [--stalled] [--arrivals FILE]
//   --arrivals FILE: writes there, as a JSON array, the batch (payload `b`) and receipt time (ms) of
//   every event received, for the bench to compare with when each batch was acknowledged.
//   --stalled: one more connection that never reads (its socket is paused), to see the server's RSS.
import * as Fs from "node:fs"
import * as Http from "node:http"

const [url, n, prefix, topics] = [process.argv[2], Number(process.argv[3]), process.argv[4], Number(process.argv[5])]
const stalled = process.argv.includes("--stalled")
const arrivalsArg = process.argv.indexOf("--arrivals")
const arrivalsFile = arrivalsArg === -1 ? undefined : process.argv[arrivalsArg + 1]
const fromCommit = []
const fromPublish = []
const arrivals = [] // batch, receipt time (ms), batch, receipt time, ...
const counts = Array.from({ length: n }, () => 0)
let open = 0

const follow = (i, topic, onData) => {
  const query = topic === undefined ? "after=now" : `after=now&topic=${encodeURIComponent(topic)}`
  const req = Http.get(`${url}/events/stream?${query}`, (res) => {
    if (res.statusCode !== 200) throw new Error(`follower ${i}: ${res.statusCode}`)
    open++
    if (open === n + (stalled ? 1 : 0)) process.stdout.write("ready\n")
    if (onData === undefined) return res.pause()
    res.setEncoding("utf8")
    let buffer = ""
    res.on("data", (chunk) => {
      // A message arrives with the chunk that completes it: its time is the chunk's, not when this
      // process gets round to parsing it (a commit's burst takes tens of ms to parse here).
      const now = Date.now()
      buffer += chunk
      // One pass over the buffer, one slice at the end (slicing per message was quadratic in a chunk).
      let start = 0
      let end
      while ((end = buffer.indexOf("\n\n", start)) !== -1) {
        const message = buffer.slice(start, end)
        start = end + 2
        const data = message.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n")
        if (data !== "") onData(data, now)
      }
      buffer = buffer.slice(start)
    })
  })
  req.on("error", () => {})
}

for (let i = 0; i < n; i++) {
  follow(i, topics === 0 ? undefined : `${prefix}${i % topics}`, (data, now) => {
    const e = JSON.parse(data)
    counts[i]++
    fromCommit.push(now - Date.parse(e.received_at))
    if (typeof e.payload.ts === "number") fromPublish.push(now - e.payload.ts)
    if (typeof e.payload.b === "number") arrivals.push(e.payload.b, now)
  })
}
if (stalled) follow(n, undefined, undefined)

const pct = (xs, p) => {
  if (xs.length === 0) return null
  const sorted = Float64Array.from(xs).sort()
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}
// SIGUSR2: how many events have arrived so far, as a line "received N".
process.on("SIGUSR2", () => process.stdout.write(`received ${fromCommit.length}\n`))
process.on("SIGTERM", () => {
  if (arrivalsFile !== undefined) Fs.writeFileSync(arrivalsFile, JSON.stringify(arrivals))
  process.stdout.write(JSON.stringify({
    received: fromCommit.length,
    minPerFollower: Math.min(...counts),
    fromCommit: { p50: pct(fromCommit, 50), p99: pct(fromCommit, 99), max: pct(fromCommit, 100) },
    fromPublish: { p50: pct(fromPublish, 50), p99: pct(fromPublish, 99) }
  }) + "\n")
  process.exit(0)
})
