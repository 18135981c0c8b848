/** Events as they commit (the SSE stream), newest first: a topic filter, pause/resume, a cap on rows kept. */
import { useEffect, useRef, useState } from "preact/hooks"
import * as Api from "./api.js"
import { time } from "./format.js"
import * as Sse from "./sse.js"

const CAPS = [100, 500, 2_000] as const

export const Tail = ({ onUnauthorized }: { onUnauthorized: () => void }) => {
  const [topic, setTopic] = useState("")
  const [applied, setApplied] = useState("")
  const [paused, setPaused] = useState(false)
  const [cap, setCap] = useState<number>(500)
  const [rows, setRows] = useState<ReadonlyArray<Api.StoredEvent>>([])
  const [state, setState] = useState("connecting")
  // Where to resume: after the last event shown (nothing missed across a pause), or "now" at first.
  const resume = useRef<number | "now">("now")
  const capRef = useRef(cap)
  capRef.current = cap

  useEffect(() => {
    if (paused) {
      setState("paused")
      return
    }
    const following = Sse.follow({
      topic: applied,
      after: resume.current,
      onEvent: (data, id) => {
        resume.current = id
        const event = Api.eventFromMessage(data)
        setRows((old) => [event, ...old].slice(0, capRef.current))
      },
      onState: (s) => (s === "unauthorized" ? onUnauthorized() : setState(s))
    })
    return () => following.stop()
  }, [paused, applied])

  return (
    <section aria-labelledby="tail-title">
      <h2 id="tail-title">Live tail</h2>
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault()
          resume.current = "now"
          setRows([])
          setApplied(topic)
        }}
      >
        <label>Topic <input id="tail-topic" type="search" placeholder="all topics" value={topic} onInput={(e) => setTopic(e.currentTarget.value)} /></label>
        <button type="submit">Follow</button>
        <button type="button" id="tail-pause" aria-pressed={paused} onClick={() => setPaused(!paused)}>{paused ? "Resume" : "Pause"}</button>
        <label>
          Keep{" "}
          <select id="tail-cap" value={cap} onChange={(e) => {
            const c = Number(e.currentTarget.value)
            setCap(c)
            setRows((old) => old.slice(0, c))
          }}>
            {CAPS.map((c) => <option value={c}>{c} rows</option>)}
          </select>
        </label>
        <span class={`badge ${state}`} id="tail-state" role="status">{state}</span>
      </form>
      <div class="scroll">
        <table id="tail-table">
          <thead>
            <tr><th scope="col">seq</th><th scope="col">topic</th><th scope="col">event_id</th><th scope="col">received</th><th scope="col">payload</th></tr>
          </thead>
          <tbody>
            {rows.map((e) => (
              <tr key={e.seq}>
                <td class="num">{e.seq}</td>
                <td>{e.topic}</td>
                <td>{e.event_id}</td>
                <td>{time(e.received_at)}</td>
                <td class="payload-cell"><code>{e.payload.length > 200 ? `${e.payload.slice(0, 200)}…` : e.payload}</code></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  )
}
