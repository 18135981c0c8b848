/** Counters, live rates, a 15-minute chart, commit figures and the process's state. */
import { useEffect, useRef, useState } from "preact/hooks"
import uPlot from "uplot"
import * as Api from "./api.js"
import { dec, duration, int, percent } from "./format.js"
import { usePoll } from "./poll.js"

type Point = Api.Overview["history"][number]

/** Events per second between neighbouring points, for column `column` (2 unique, 3 duplicates). */
const rates = (points: ReadonlyArray<Point>, column: 2 | 3): Array<number | null> =>
  points.map((p, i) => {
    const prev = points[i - 1]
    if (prev === undefined) return null
    const seconds = (p[0] - prev[0]) / 1000
    return seconds > 0 ? Math.max(0, (p[column] - prev[column]) / seconds) : null
  })

const Chart = ({ points }: { points: ReadonlyArray<Point> }) => {
  const host = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  useEffect(() => {
    if (host.current === null) return
    const made = new uPlot({
      width: host.current.clientWidth || 600,
      height: 220,
      series: [
        {},
        { label: "accepted/s", stroke: "#1f6feb", width: 2, fill: "rgba(31,111,235,0.08)" },
        { label: "duplicates/s", stroke: "#bf3989", width: 2 }
      ],
      axes: [{}, { label: "events/s", size: 70 }]
    }, [[], [], []], host.current)
    plot.current = made
    const resize = new ResizeObserver(() => made.setSize({ width: host.current?.clientWidth ?? 600, height: 220 }))
    resize.observe(host.current)
    return () => {
      resize.disconnect()
      made.destroy()
    }
  }, [])
  useEffect(() => {
    plot.current?.setData([points.map((p) => p[0] / 1000), rates(points, 2), rates(points, 3)] as uPlot.AlignedData)
  }, [points])
  return <div class="chart" ref={host} role="img" aria-label="Accepted and duplicate events per second, last 15 minutes" data-points={points.length} />
}

const Card = ({ label, value, id, hint }: { label: string; value: string; id: string; hint?: string }) => (
  <div class="card">
    <div class="label">{label}</div>
    <div class="value" id={id} title={hint}>{value}</div>
  </div>
)

export const Overview = ({ onUnauthorized }: { onUnauthorized: () => void }) => {
  const [points, setPoints] = useState<ReadonlyArray<Point>>([])
  const [latest, setLatest] = useState<Api.Overview | undefined>(undefined)
  const last = useRef<number | undefined>(undefined)
  const error = usePoll(1_000, onUnauthorized, async () => {
    const o = await Api.overview(last.current)
    setLatest(o)
    if (o.history.length > 0) {
      last.current = o.history[o.history.length - 1]![0]
      setPoints((old) => [...old, ...o.history].slice(-900))
    }
  })
  const t = latest?.totals
  const acc = rates(points.slice(-2), 2)[1] ?? null
  const dup = rates(points.slice(-2), 3)[1] ?? null
  return (
    <section aria-labelledby="overview-title">
      <h2 id="overview-title">Overview</h2>
      {error !== undefined && <p class="error" role="alert">{error}</p>}
      <div class="state">
        <span class={`badge ${latest?.state ?? "unknown"}`} id="state">{latest?.state ?? "…"}</span>
        <span>store <b id="store">{latest?.store ?? "…"}</b></span>
        <span>workers <b id="workers">{int(t?.workers)}</b></span>
        <span>uptime <b id="uptime">{t === undefined ? "…" : duration(t.uptime)}</b></span>
        <span>followers <b id="followers">{int(t?.followers)}</b></span>
      </div>
      <div class="cards">
        <Card id="received" label="received" value={int(t?.received)} />
        <Card id="unique" label="unique" value={int(t?.unique_processed)} />
        <Card id="duplicates" label="duplicates" value={int(t?.duplicate_dropped)} />
        <Card id="conflicts" label="conflicts" value={int(t?.conflicts)} hint="duplicates whose fields differ from the stored copy" />
        <Card id="pending" label="pending (queue)" value={int(t?.pending)} />
        <Card id="topics" label="topics" value={int(t?.topic_count)} />
        <Card id="dup-rate" label="duplicate rate" value={t === undefined ? "–" : percent(t.duplicate_dropped, t.received - t.pending)} />
        <Card id="rate-accepted" label="accepted/s" value={dec(acc)} />
        <Card id="rate-duplicates" label="duplicates/s" value={dec(dup)} />
        <Card id="latency" label={`commit p50 / p99 (${latest?.commits.window_seconds ?? 60} s)`} value={latest === undefined ? "–" : `${dec(latest.commits.latency_p50_ms)} / ${dec(latest.commits.latency_p99_ms)} ms`} />
        <Card id="group-size" label="events per commit" value={dec(latest?.commits.mean_group_size)} />
      </div>
      <h3>Last 15 minutes</h3>
      <Chart points={points} />
    </section>
  )
}
