// Check 4 of scripts/docker-test.sh: durable publishes from a few publishers until the server is
// killed, then a check on the restarted server that every acknowledged event is stored.
//   node scripts/docker-test-load.mjs publish URL ACKED [PUBLISHERS]
//     Each publisher sends distinct events (`?ack=durable`; batches of 1 and of 20) until a request
//     fails at the connection, i.e. the server is gone (or 60 s pass). A request's event ids are
//     appended to the file ACKED only after its 200. Any other answer than 200 or 503 exits 1.
//   node scripts/docker-test-load.mjs verify URL ACKED
//     Reads the topic back page by page; exits 1 if an acknowledged id is missing or if /stats
//     does not count exactly the stored events.
import * as Fs from "node:fs"

const TOPIC = "docker-test-load"
const [mode, url, acked, publishersArg] = process.argv.slice(2)
if ((mode !== "publish" && mode !== "verify") || !url || !acked) {
  console.error("usage: docker-test-load.mjs publish URL ACKED [PUBLISHERS] | verify URL ACKED")
  process.exit(2)
}

const publisher = async (p, deadline) => {
  const size = p % 2 === 0 ? 1 : 20
  for (let n = 0; Date.now() < deadline; n += size) {
    const events = Array.from({ length: size }, (_, k) => ({
      topic: TOPIC,
      event_id: `p${p}-${n + k}`,
      timestamp: new Date().toISOString(),
      source: "docker-test",
      payload: { p, n: n + k }
    }))
    let response
    try {
      response = await fetch(`${url}/publish?ack=durable`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(events)
      })
      await response.arrayBuffer()
    } catch {
      return // the server is gone: what it acknowledged is in the file
    }
    if (response.status === 200) Fs.appendFileSync(acked, events.map((e) => `${e.event_id}\n`).join(""))
    else if (response.status === 503) n -= size // not accepted (starting, queue full): the same ids again
    else throw new Error(`publisher ${p}: unexpected ${response.status}`)
  }
}

if (mode === "publish") {
  const deadline = Date.now() + 60_000
  const publishers = Number(publishersArg ?? 4)
  await Promise.all(Array.from({ length: publishers }, (_, p) => publisher(p, deadline))).catch((e) => {
    console.error(String(e))
    process.exit(1)
  })
} else {
  const ids = Fs.readFileSync(acked, "utf8").split("\n").filter((line) => line.length > 0)
  const stored = new Set()
  for (let after = 0; after !== null;) {
    const response = await fetch(`${url}/events?topic=${TOPIC}&after=${after}&limit=10000`)
    if (response.status !== 200) throw new Error(`GET /events: ${response.status}`)
    const page = await response.json()
    for (const event of page.events) stored.add(event.event_id)
    after = page.next_after
  }
  const stats = await (await fetch(`${url}/stats`)).json()
  const counted = stats.per_topic[TOPIC]?.unique_processed
  const missing = ids.filter((id) => !stored.has(id))
  process.stdout.write(
    `${ids.length} acknowledged before the kill, ${stored.size} stored, /stats counts ${counted}` +
      (missing.length > 0 ? `; MISSING ${missing.length}: ${missing.slice(0, 10).join(" ")}` : "") + "\n"
  )
  if (missing.length > 0 || counted !== stored.size || ids.length === 0) process.exit(1)
}
