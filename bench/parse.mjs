// How a request body becomes events with payload text, three ways, same bodies, same run:
//   before:        JSON.parse, then JSON.stringify of each payload twice (size check, then the row)
//                  — what the server did until payloads were kept as text (and it rounded int64s);
//   lossless-json: its parse (numbers as LosslessNumber), then its stringify of each payload;
//   scanner:       EventJson.parse, which keeps each payload's source text (nothing to stringify).
// The scanner is also run with Event.validate after it: the full path to events ready to store.
// Each measurement runs in a fresh process (one subject's JIT feedback must not slow another's);
// rounds alternate between the subjects (A B C A B C ...) so the machine's drift weighs on all;
// the median of the rounds is reported, and ratios against "before".
// Usage: node bench/parse.mjs [--seconds N]   (after npm install)
import { Event, EventJson } from "@event-aggregator/core"
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import * as Either from "effect/Either"
import * as LosslessJson from "lossless-json"

const secondsArg = process.argv.indexOf("--seconds")
const SECONDS = secondsArg === -1 ? 12 : Number(process.argv[secondsArg + 1])
const ROUNDS = 6
const EVENTS = 1000

const small = (i) => `{"n":${i},"tag":"x"}`
const rich = (i) =>
  `{"order_id":9223372036854775${String(i % 1000).padStart(3, "0")},"customer":{"id":"c-${i}","name":"Zoë \\"Q\\" O'Brien","tags":["vip","eu"]},` +
  `"lines":[{"sku":"A-1","qty":2,"price":19.99},{"sku":"B-22","qty":1,"price":5.5}],"total":45.48,"paid":true,"note":null,` +
  `"meta":{"source":"checkout","ts":1738324800123,"ratio":0.1,"text":"caf\\u00e9 ✓"}}`

const body = (payload) =>
  `[${Array.from({ length: EVENTS }, (_, i) =>
    `{"topic":"t${i % 4}","event_id":"e-${i}","timestamp":"2025-01-31T12:00:00Z","source":"bench","payload":${payload(i)}}`).join(",")}]`

const limits = Event.defaultLimits

const subjects = {
  before: (text) => {
    const list = JSON.parse(text)
    let bytes = 0
    for (const e of list) {
      bytes += JSON.stringify(e.payload).length // the size check
      bytes += JSON.stringify(e.payload).length // the row
    }
    return bytes
  },
  "lossless-json": (text) => {
    const list = LosslessJson.parse(text)
    let bytes = 0
    for (const e of list) bytes += LosslessJson.stringify(e.payload).length
    return bytes
  },
  scanner: (text) => {
    const list = Either.getOrThrow(EventJson.parse(text))
    let bytes = 0
    for (const e of list) bytes += e.payload.text.length
    return bytes
  },
  "scanner + validate": (text) => Either.getOrThrow(Event.validate(Either.getOrThrow(EventJson.parse(text)), limits)).length
}

const measure = (fn, text, millis) => {
  const started = performance.now()
  let n = 0
  let sink = 0
  while (performance.now() - started < millis) {
    sink += fn(text)
    n++
  }
  if (sink < 0) throw new Error("unreachable")
  return (n * EVENTS) / ((performance.now() - started) / 1000)
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const bodies = { small, rich }

// A child measures one subject on one body and prints events/s.
const childArg = process.argv.indexOf("--measure")
if (childArg !== -1) {
  const [subject, kind, millis] = process.argv.slice(childArg + 1)
  const text = body(bodies[kind])
  measure(subjects[subject], text, 300) // warm up
  console.log(measure(subjects[subject], text, Number(millis)))
  process.exit(0)
}

const self = fileURLToPath(import.meta.url)
const names = Object.keys(subjects)
const slice = Math.round((SECONDS * 1000) / ROUNDS / names.length)
for (const [kind, name] of [["small", "small payloads ({n, tag}: the server bench's)"], ["rich", "rich payloads (~400 B, int64, escapes)"]]) {
  const samples = Object.fromEntries(names.map((n) => [n, []]))
  for (let r = 0; r < ROUNDS; r++) {
    for (const n of names) {
      samples[n].push(Number(execFileSync(process.execPath, [self, "--measure", n, kind, String(slice)], { encoding: "utf8" })))
    }
  }
  const base = median(samples.before)
  console.log(`\n${name}: ${EVENTS}-event bodies of ${(body(bodies[kind]).length / 1024).toFixed(0)} KiB, median of ${ROUNDS} rounds`)
  for (const n of names) {
    const v = median(samples[n])
    console.log(`  ${n.padEnd(20)} ${Math.round(v).toLocaleString("en").padStart(11)} events/s   ${(v / base).toFixed(2)}× before`)
  }
}
