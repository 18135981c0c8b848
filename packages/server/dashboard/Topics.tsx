/** One row per topic, sortable by any column, filtered by name, 50 rows a page (thousands stay fast). */
import { useMemo, useState } from "preact/hooks"
import * as Api from "./api.js"
import { int, percent, time } from "./format.js"
import { usePoll } from "./poll.js"

type Column = "topic" | "unique_processed" | "duplicate_dropped" | "conflicts" | "rate" | "last_event_at"

const PAGE = 50

const rate = (t: Api.TopicRow) => {
  const seen = t.unique_processed + t.duplicate_dropped
  return seen === 0 ? 0 : t.duplicate_dropped / seen
}

const value = (t: Api.TopicRow, column: Column): string | number =>
  column === "rate" ? rate(t) : column === "last_event_at" ? (t.last_event_at ?? "") : t[column]

const COLUMNS: ReadonlyArray<readonly [Column, string]> = [
  ["topic", "topic"],
  ["unique_processed", "unique"],
  ["duplicate_dropped", "duplicates"],
  ["conflicts", "conflicts"],
  ["rate", "duplicate rate"],
  ["last_event_at", "last event"]
]

export const Topics = ({ onUnauthorized, onOpen }: { onUnauthorized: () => void; onOpen: (topic: string) => void }) => {
  const [rows, setRows] = useState<ReadonlyArray<Api.TopicRow> | undefined>(undefined)
  const [sort, setSort] = useState<{ column: Column; descending: boolean }>({ column: "unique_processed", descending: true })
  const [filter, setFilter] = useState("")
  const [page, setPage] = useState(0)
  const error = usePoll(5_000, onUnauthorized, async () => setRows(await Api.topics()))

  const sorted = useMemo(() => {
    const needle = filter.toLowerCase()
    const kept = (rows ?? []).filter((r) => needle === "" || r.topic.toLowerCase().includes(needle))
    const sign = sort.descending ? -1 : 1
    return kept.sort((a, b) => {
      const x = value(a, sort.column)
      const y = value(b, sort.column)
      return x < y ? -sign : x > y ? sign : a.topic < b.topic ? -1 : 1
    })
  }, [rows, sort, filter])
  const pages = Math.max(1, Math.ceil(sorted.length / PAGE))
  const shown = sorted.slice(Math.min(page, pages - 1) * PAGE, Math.min(page, pages - 1) * PAGE + PAGE)

  const header = (column: Column, label: string) => {
    const active = sort.column === column
    return (
      <th scope="col" aria-sort={active ? (sort.descending ? "descending" : "ascending") : "none"}>
        <button
          type="button"
          class="sort"
          onClick={() => setSort({ column, descending: active ? !sort.descending : column !== "topic" })}
        >
          {label} {active ? (sort.descending ? "▼" : "▲") : ""}
        </button>
      </th>
    )
  }

  return (
    <section aria-labelledby="topics-title">
      <h2 id="topics-title">Topics</h2>
      {error !== undefined && <p class="error" role="alert">{error}</p>}
      <div class="toolbar">
        <label>
          Filter <input id="topic-filter" type="search" value={filter} onInput={(e) => (setFilter(e.currentTarget.value), setPage(0))} />
        </label>
        <span id="topic-count">{rows === undefined ? "loading…" : `${int(sorted.length)} of ${int(rows.length)} topics`}</span>
      </div>
      <div class="scroll">
        <table id="topics-table">
          <thead>
            <tr>{COLUMNS.map(([c, l]) => header(c, l))}</tr>
          </thead>
          <tbody>
            {shown.map((t) => (
              <tr key={t.topic}>
                <td>
                  <button type="button" class="link" onClick={() => onOpen(t.topic)} title="browse this topic's events">{t.topic}</button>
                </td>
                <td class="num">{int(t.unique_processed)}</td>
                <td class="num">{int(t.duplicate_dropped)}</td>
                <td class="num">{int(t.conflicts)}</td>
                <td class="num">{percent(t.duplicate_dropped, t.unique_processed + t.duplicate_dropped)}</td>
                <td>{time(t.last_event_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <nav class="pager" aria-label="topic pages">
        <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)}>Previous</button>
        <span>page {Math.min(page, pages - 1) + 1} of {pages}</span>
        <button type="button" disabled={page >= pages - 1} onClick={() => setPage(page + 1)}>Next</button>
      </nav>
    </section>
  )
}
