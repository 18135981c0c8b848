/** Progress on stderr: a cli-progress bar on a TTY, plain periodic lines otherwise. */
import { SingleBar } from "cli-progress"

export interface Counts {
  read: number
  accepted: number
  duplicates: number
  conflicts: number
  rejected: number
}

export const make = (totalBytes: number, enabled: boolean) => {
  const started = performance.now()
  const rate = (c: Counts) => Math.round(c.read / Math.max((performance.now() - started) / 1000, 0.001))
  let bytes = 0
  if (!enabled) {
    return { bytes: (_n: number) => {}, update: (_c: Counts) => {}, stop: () => {} }
  }
  if (process.stderr.isTTY) {
    const bar = new SingleBar({
      stream: process.stderr,
      format: totalBytes > 0
        ? "{bar} {percentage}% | {read} events | {rate} ev/s | {duplicates} duplicates | {rejected} rejected"
        : "{read} events | {rate} ev/s | {duplicates} duplicates | {rejected} rejected",
      hideCursor: true,
      etaBuffer: 50
    })
    bar.start(Math.max(totalBytes, 1), 0, { read: 0, rate: 0, duplicates: 0, rejected: 0 })
    return {
      bytes: (n: number) => {
        bytes += n
      },
      update: (c: Counts) => bar.update(Math.min(bytes, totalBytes), { ...c, rate: rate(c) }),
      stop: () => bar.stop()
    }
  }
  let last = performance.now()
  return {
    bytes: (n: number) => {
      bytes += n
    },
    update: (c: Counts) => {
      const now = performance.now()
      if (now - last < 2000) return
      last = now
      process.stderr.write(
        `progress: ${c.read} events, ${rate(c)} events/s, ${c.duplicates} duplicates, ${c.rejected} rejected\n`
      )
    },
    stop: () => {}
  }
}
