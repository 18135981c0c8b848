// The soak (npm run bench -- --soak [--soak-minutes N] [--rate EVENTS_PER_S]): case 2's batches
// (sequential ids, 16 connections) for SOAK_MINUTES at half the batch throughput measured just
// before on a fresh server (--seconds of load), or at --rate events/s; the server's RSS sampled
// every 10 s. Verdict "flat after warm-up": after the warm-up (the first sixth, at least 10 s),
// the highest RSS sample of the last third is at most 1.1× the highest of the first third.
import * as Path from "node:path"
import { log, RATE, SOAK_MINUTES } from "../lib/args.mjs"
import { load, measure } from "../lib/load.mjs"
import { peakRss, r2, rss } from "../lib/proc.mjs"
import { row } from "../lib/report.mjs"
import { startServer } from "../lib/subjects.mjs"
import { batchBody } from "../lib/traffic.mjs"

const SAMPLE_MS = 10_000
/** The most the last third's RSS may reach, as a multiple of the first third's (after warm-up). */
const FLAT = 1.1

/** Splits samples (after warm-up) into thirds; flat when max(last) ≤ FLAT × max(first). */
export const verdict = (samples, warmupSeconds) => {
  const after = samples.filter((s) => s.seconds > warmupSeconds)
  const k = Math.max(1, Math.floor(after.length / 3))
  const first = Math.max(...after.slice(0, k).map((s) => s.rssMiB))
  const last = Math.max(...after.slice(after.length - k).map((s) => s.rssMiB))
  return { samples: after.length, first, last, ratio: last / first, flat: after.length >= 2 && last <= FLAT * first }
}

export const soak = async (dir) => {
  const c = "S soak"
  let rate = RATE
  if (rate === undefined) {
    log("soak: measuring batch throughput first (case 2's load on a fresh server)")
    const m = await measure(() => startServer(Path.join(dir, "soak-measure.sqlite")), 16, batchBody("measure"))
    row(c, "batch throughput measured before the soak (16 conn, saturated)", m.rps * 1000, "events/s")
    rate = (m.rps * 1000) / 2
  }
  const seconds = Math.round(SOAK_MINUTES * 60)
  const warmup = Math.max(10, seconds / 6)
  log(`soak: ${seconds} s at ${Math.round(rate)} events/s, RSS every ${SAMPLE_MS / 1000} s, warm-up ${Math.round(warmup)} s`)
  const server = await startServer(Path.join(dir, "soak.sqlite"))
  const samples = []
  let acked = 0
  const t0 = performance.now()
  const timer = setInterval(() => {
    samples.push({ seconds: Math.round((performance.now() - t0) / 1000), rssMiB: r2(rss(server.pid) / 2 ** 20), ackedEvents: acked * 1000 })
    log(`soak: ${samples.at(-1).seconds} s, RSS ${samples.at(-1).rssMiB} MiB, ${acked * 1000} events acknowledged`)
  }, SAMPLE_MS)
  let result
  let peak
  try {
    result = await load(server.url, 16, batchBody("soak"), { seconds, rate: rate / 1000, onAck: () => acked++ })
    peak = peakRss(server.pid)
  } finally {
    clearInterval(timer)
    await server.stop()
  }
  const v = verdict(samples, warmup)
  row(c, `soak rate (${RATE === undefined ? "half the measured throughput" : "--rate"}), ${SOAK_MINUTES} min`, rate, "events/s")
  row(c, "soak, events/s achieved", result.rps * 1000, "events/s", "soak rate", r2((result.rps * 1000) / rate))
  row(c, "soak, p99 latency", result.p99, "ms")
  row(c, "soak, non-2xx answers and errors", result.errors, "", "", "", "0", result.errors === 0)
  row(c, "soak, server peak RSS (VmHWM)", peak / 2 ** 20, "MiB")
  row(c, `soak, server RSS: max of the last third vs the first third after ${Math.round(warmup)} s warm-up (${v.samples} samples; first ${v.first} MiB)`, v.last, "MiB", "first third", r2(v.ratio), `≤ ${FLAT.toFixed(2)} (flat after warm-up)`, v.flat)
  return { rate, warmupSeconds: warmup, sampleSeconds: SAMPLE_MS / 1000, samples, verdict: { ...v, flat: v.flat ? "flat after warm-up" : "NOT flat after warm-up" } }
}
