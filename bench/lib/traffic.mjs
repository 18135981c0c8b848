// Traffic: the same events for every subject (servers, ceilings), with sequential-looking ids
// (`srv-12-345`, `e-123`) or random UUIDv4 ids. The UUIDs come from a seeded generator, so the
// server and its raw ceiling get the very same events.
import * as Fs from "node:fs"

export const event = (topic, id) =>
  ({ topic, event_id: id, timestamp: "2025-01-31T12:00:00Z", source: "bench", payload: { n: 1, tag: "x" } })

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))
/** splitmix32: a well-mixed 32-bit value from a 32-bit state. */
const mix = (x) => {
  x = (x + 0x9e3779b9) | 0
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b)
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35)
  return (x ^ (x >>> 16)) >>> 0
}
const hashString = (s) => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}
/** A random-looking, reproducible UUIDv4 for (seed, n): the same arguments, the same id. */
export const uuid = (seed, n) => {
  const a = mix(seed ^ mix(n))
  const b = mix(a ^ 0x2545f491)
  const c = mix(b ^ n)
  const d = mix(c ^ seed)
  const h = (x, s) => HEX[(x >>> s) & 0xff]
  return `${h(a, 24)}${h(a, 16)}${h(a, 8)}${h(a, 0)}-${h(b, 24)}${h(b, 16)}-4${HEX[(b >>> 8) & 0xff][1]}${h(b, 0)}-` +
    `${HEX[0x80 | ((c >>> 24) & 0x3f)]}${h(c, 16)}-${h(c, 8)}${h(c, 0)}${h(d, 24)}${h(d, 16)}${h(d, 8)}${h(d, 0)}`
}

/** Key shapes: "seq" (`run-i-k`) or "uuid" (random UUIDv4, reproducible from run, i, k). */
export const batchId = (keys, run) => {
  if (keys === "seq") return (i, k) => `${run}-${i}-${k}`
  const seed = hashString(run)
  return (i, k) => uuid(seed, i * 1000 + k)
}

export const singleBody = (run) => (i) => JSON.stringify(event("bench", `${run}-${i}`))

/** Request i: 1,000 events, 800 new, 200 re-sent from request i - 1 (20% duplicates). */
export const batchEvents = (run, i, keys = "seq") => {
  const id = batchId(keys, run)
  const events = []
  for (let k = 0; k < 800; k++) events.push(event(`t${k % 4}`, id(i, k)))
  for (let k = 0; k < 200; k++) events.push(event(`t${k % 4}`, id(Math.max(0, i - 1), k)))
  return events
}
export const batchBody = (run, keys = "seq") => (i) => JSON.stringify(batchEvents(run, i, keys))

/** Case 7's batches: 1,000 events over 100 topics (one per follower), each stamped with its publish time and batch. */
export const stampedBody = (run) => (i) => {
  const ts = Date.now()
  return JSON.stringify(Array.from({ length: 1000 }, (_, k) => ({
    topic: `f${k % 100}`,
    event_id: `${run}-${i}-${k}`,
    timestamp: "2025-01-31T12:00:00Z",
    source: "bench",
    payload: { n: k, tag: "x", ts, b: i }
  })))
}

/** Case 4's file: `lines` events over 8 topics, every tenth a copy of a line 4 earlier (10% duplicates). */
export const writeNdjson = (file, lines, keys = "seq") =>
  new Promise((resolve) => {
    const seed = hashString("ingest")
    const idOf = keys === "seq" ? (n) => `e-${n}` : (n) => uuid(seed, n)
    const out = Fs.createWriteStream(file)
    let i = 0
    const write = () => {
      let ok = true
      while (i < lines && ok) {
        const n = i % 10 === 9 ? i - 5 : i
        ok = out.write(JSON.stringify(event(`t${n % 8}`, idOf(n))) + "\n")
        i++
      }
      if (i < lines) out.once("drain", write)
      else out.end(resolve)
    }
    write()
  })
