/**
 * The dashboard: overview, topics, log browser and live tail, one page served by the server
 * (`/` and `/dashboard`). With `API_KEY` set it asks for the key first and keeps it in
 * `sessionStorage`; requests carry it in the `Authorization` header, never in a URL.
 */
import { render } from "preact"
import { useEffect, useState } from "preact/hooks"
import * as Api from "./api.js"
import { Log } from "./Log.js"
import { Overview } from "./Overview.js"
import { Tail } from "./Tail.js"
import { Topics } from "./Topics.js"

type View = "overview" | "topics" | "log" | "tail"

const VIEWS: ReadonlyArray<readonly [View, string]> = [
  ["overview", "Overview"],
  ["topics", "Topics"],
  ["log", "Log"],
  ["tail", "Live tail"]
]

const viewOf = (hash: string): View => {
  const name = hash.replace(/^#/, "").split("?")[0]
  return VIEWS.some(([v]) => v === name) ? (name as View) : "overview"
}

/** Asks for the API key; checks it against the server before keeping it. */
const KeyForm = ({ onKey, refused }: { onKey: () => void; refused: boolean }) => {
  const [key, setKey] = useState("")
  const [wrong, setWrong] = useState(false)
  const submit = async (e: Event) => {
    e.preventDefault()
    Api.apiKey.set(key)
    try {
      await Api.overview(Date.now())
      onKey()
    } catch (error) {
      if (!(error instanceof Api.Unauthorized)) throw error
      Api.apiKey.clear()
      setWrong(true)
    }
  }
  return (
    <form class="key" onSubmit={submit} aria-labelledby="key-title">
      <h2 id="key-title">API key</h2>
      <p>This server needs its API key to show data. The key is kept in this tab only (sessionStorage) and sent in the Authorization header.</p>
      {(wrong || refused) && <p class="error" role="alert" id="key-error">{wrong ? "That key was refused." : "The server asks for a key."}</p>}
      <label>Key <input id="api-key" type="password" autocomplete="off" required value={key} onInput={(e) => setKey(e.currentTarget.value)} /></label>
      <button type="submit" id="api-key-go">Open</button>
    </form>
  )
}

const App = () => {
  const [view, setView] = useState<View>(viewOf(location.hash))
  const [logTopic, setLogTopic] = useState("")
  const [locked, setLocked] = useState(false)
  useEffect(() => {
    const onHash = () => setView(viewOf(location.hash))
    addEventListener("hashchange", onHash)
    return () => removeEventListener("hashchange", onHash)
  }, [])
  const unauthorized = () => {
    Api.apiKey.clear()
    setLocked(true)
  }
  const open = (topic: string) => {
    setLogTopic(topic)
    location.hash = "log"
  }
  return (
    <>
      <header>
        <h1>event-aggregator</h1>
        <nav aria-label="views">
          {VIEWS.map(([v, label]) => (
            <a href={`#${v}`} id={`tab-${v}`} aria-current={v === view ? "page" : undefined}>{label}</a>
          ))}
          <a href="/docs">API docs</a>
        </nav>
      </header>
      <main>
        {locked
          ? <KeyForm refused onKey={() => setLocked(false)} />
          : view === "overview"
          ? <Overview onUnauthorized={unauthorized} />
          : view === "topics"
          ? <Topics onUnauthorized={unauthorized} onOpen={open} />
          : view === "log"
          ? <Log key={logTopic} topic={logTopic} onUnauthorized={unauthorized} />
          : <Tail onUnauthorized={unauthorized} />}
      </main>
    </>
  )
}

render(<App />, document.getElementById("app")!)
