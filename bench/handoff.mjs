// What moving a group to the SQLite writer thread costs: the same message shapes as the store's
// writer protocol (an Append with the events, an Appended with one outcome per event), echoed by a
// worker that does nothing else. Usage: node bench/handoff.mjs [--rounds N]
// Prints per group size: µs per round trip and µs per event (median of rounds).
import { Worker } from "node:worker_threads"

const i = process.argv.indexOf("--rounds")
const ROUNDS = i === -1 ? 7 : Number(process.argv[i + 1])
const worker = new Worker(
  `const { parentPort } = require("node:worker_threads")
   parentPort.on("message", (m) => parentPort.postMessage({ _tag: "Appended", id: m.id, result: {
     outcomes: m.events.map((_, i) => ({ status: "accepted", seq: i + 1 })),
     deltas: [["t", { unique_processed: m.events.length, duplicate_dropped: 0, conflicts: 0 }]] } }))`,
  { eval: true }
)
const event = (n) => ({
  topic: "orders",
  event_id: `e-${n}-0b7c3f2a-4d1e-4a57-9b8e-${String(n).padStart(12, "0")}`,
  timestamp: "2025-01-31T12:00:00Z",
  source: "bench",
  payload: `{"n":${n},"tag":"x","amount":12.50}`
})
const roundTrip = (events, id) =>
  new Promise((resolve) => {
    const on = (m) => {
      if (m.id !== id) return
      worker.off("message", on)
      resolve(m)
    }
    worker.on("message", on)
    worker.postMessage({ _tag: "Append", id, events, receivedAt: new Date().toISOString() })
  })

let id = 0
const rows = []
for (const size of [1, 24, 1_000, 10_000, 50_000]) {
  const events = Array.from({ length: size }, (_, n) => event(n))
  const count = Math.max(5, Math.round(200_000 / size))
  const times = []
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint()
    for (let k = 0; k < count; k++) await roundTrip(events, id++)
    times.push(Number(process.hrtime.bigint() - start) / 1000 / count)
  }
  const us = times.sort((a, b) => a - b)[Math.floor(times.length / 2)]
  rows.push({ events: size, round_trip_us: Math.round(us * 10) / 10, per_event_us: Math.round((us / size) * 100) / 100 })
}
console.log(JSON.stringify(rows))
await worker.terminate()
