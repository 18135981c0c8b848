// Figures about a process (from /proc) and small statistics.
import * as Fs from "node:fs"

const status = (pid, field) => {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(Fs.readFileSync(`/proc/${pid}/status`, "utf8"))
  return m ? Number(m[1]) * 1024 : 0
}
/** A process's peak resident memory so far (VmHWM), in bytes. */
export const peakRss = (pid) => status(pid, "VmHWM")
/** A process's resident memory now (VmRSS), in bytes. */
export const rss = (pid) => status(pid, "VmRSS")

/** A process's CPU time so far (user + system), in seconds. */
export const cpuSeconds = (pid) => {
  const fields = Fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** Polls a child's peak RSS every 50 ms until it exits; `stop()` returns the highest seen. */
export const watchPeakRss = (pid) => {
  let peak = 0
  const poll = () => {
    try {
      peak = Math.max(peak, peakRss(pid))
    } catch {
      // exited between polls
    }
  }
  const timer = setInterval(poll, 50)
  return () => (clearInterval(timer), poll(), peak)
}

/** The p-th percentile of xs (null when empty). */
export const percentile = (xs, p) => {
  if (xs.length === 0) return null
  const sorted = Float64Array.from(xs).sort()
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
export const r2 = (x) => Math.round(x * 100) / 100
