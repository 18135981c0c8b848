/** Pages of the log (a topic filter, cursor paging) and a lookup of one event by topic + event_id. */
import { useEffect, useState } from "preact/hooks"
import * as Api from "./api.js"
import { EventDetail } from "./EventDetail.js"
import { time } from "./format.js"

const LIMIT = 50

export const Log = ({ onUnauthorized, topic: initialTopic }: { onUnauthorized: () => void; topic: string }) => {
  const [topic, setTopic] = useState(initialTopic)
  const [cursors, setCursors] = useState<ReadonlyArray<number>>([0]) // the `after` of each page seen
  const [page, setPage] = useState<Api.Page | undefined>(undefined)
  const [selected, setSelected] = useState<Api.StoredEvent | undefined>(undefined)
  const [lookup, setLookup] = useState({ topic: initialTopic, eventId: "" })
  const [found, setFound] = useState<Api.StoredEvent | "not found" | undefined>(undefined)
  const [error, setError] = useState<string | undefined>(undefined)

  const guard = async (f: () => Promise<void>) => {
    try {
      await f()
      setError(undefined)
    } catch (e) {
      if (e instanceof Api.Unauthorized) return onUnauthorized()
      setError(e instanceof Error ? e.message : String(e))
    }
  }
  const load = (after: number, forTopic: string) =>
    guard(async () => setPage(await Api.page({ topic: forTopic === "" ? undefined : forTopic, after, limit: LIMIT })))

  useEffect(() => void load(cursors[cursors.length - 1]!, topic), [])

  const apply = (e: Event) => {
    e.preventDefault()
    setCursors([0])
    setSelected(undefined)
    void load(0, topic)
  }
  const next = () => {
    if (page?.next_after === null || page === undefined) return
    setCursors([...cursors, page.next_after])
    void load(page.next_after, topic)
  }
  const previous = () => {
    const back = cursors.slice(0, -1)
    setCursors(back)
    void load(back[back.length - 1]!, topic)
  }
  const find = (e: Event) => {
    e.preventDefault()
    void guard(async () => setFound((await Api.event(lookup.topic, lookup.eventId)) ?? "not found"))
  }

  return (
    <section aria-labelledby="log-title">
      <h2 id="log-title">Log</h2>
      {error !== undefined && <p class="error" role="alert">{error}</p>}
      <form class="toolbar" onSubmit={find} aria-label="look up one event">
        <label>Topic <input id="lookup-topic" required value={lookup.topic} onInput={(e) => setLookup({ ...lookup, topic: e.currentTarget.value })} /></label>
        <label>event_id <input id="lookup-id" required value={lookup.eventId} onInput={(e) => setLookup({ ...lookup, eventId: e.currentTarget.value })} /></label>
        <button type="submit" id="lookup-go">Look up</button>
      </form>
      {found === "not found" && <p id="lookup-result" role="status">Not found: no event {lookup.topic}/{lookup.eventId} is stored.</p>}
      {found !== undefined && found !== "not found" && <div id="lookup-result"><EventDetail event={found} /></div>}
      <form class="toolbar" onSubmit={apply} aria-label="filter the log">
        <label>Topic filter <input id="log-topic" type="search" placeholder="all topics" value={topic} onInput={(e) => setTopic(e.currentTarget.value)} /></label>
        <button type="submit" id="log-apply">Show</button>
        <button type="button" onClick={previous} disabled={cursors.length <= 1}>Previous</button>
        <button type="button" id="log-next" onClick={next} disabled={page?.next_after === null || page === undefined}>Next</button>
        <span>after seq {cursors[cursors.length - 1]}</span>
      </form>
      <div class="split">
        <div class="scroll">
          <table id="log-table">
            <thead>
              <tr><th scope="col">seq</th><th scope="col">topic</th><th scope="col">event_id</th><th scope="col">received</th></tr>
            </thead>
            <tbody>
              {page?.events.map((e) => (
                <tr key={e.seq} class={selected?.seq === e.seq ? "selected" : ""}>
                  <td class="num">{e.seq}</td>
                  <td>{e.topic}</td>
                  <td>
                    <button type="button" class="link" onClick={() => setSelected(e)}>{e.event_id}</button>
                  </td>
                  <td>{time(e.received_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {page !== undefined && page.events.length === 0 && <p>No events here.</p>}
        </div>
        {selected !== undefined && <EventDetail event={selected} />}
      </div>
    </section>
  )
}
