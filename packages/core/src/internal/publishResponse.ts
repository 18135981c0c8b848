/** The body of a durable publish's answer, as text: what is sent, and what a key stores. */
import type { Outcome } from "../EventStore.js"

/**
 * Totals of one publish: `received == accepted + duplicates`; conflicts are duplicates whose
 * fields differ from the stored copy.
 */
export interface Summary {
  readonly received: number
  readonly accepted: number
  readonly duplicates: number
  readonly conflicts: number
}

/** Counts the outcomes of one publish. */
export const summarize = (outcomes: ReadonlyArray<Outcome>): Summary => {
  let accepted = 0
  let conflicts = 0
  for (const o of outcomes) {
    if (o.status === "accepted") accepted++
    else if (o.status === "conflict") conflicts++
  }
  return { received: outcomes.length, accepted, duplicates: outcomes.length - accepted, conflicts }
}

/** The `PublishResult` body: the summary; with `detail`, each event's outcome and seq. */
export const result = (outcomes: ReadonlyArray<Outcome>, detail: boolean) => {
  const summary = summarize(outcomes)
  return detail ? { ...summary, results: outcomes.map((o, index) => ({ index, status: o.status, seq: o.seq })) } : summary
}

/** `result` as JSON text: what a key's record stores and replays. */
export const render = (outcomes: ReadonlyArray<Outcome>, detail: boolean): string => JSON.stringify(result(outcomes, detail))
