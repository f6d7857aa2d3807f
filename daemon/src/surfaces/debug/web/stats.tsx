import { useEffect, useRef, useState } from 'preact/hooks'
import type { Api, Metric, Problem, StatsSnapshot } from './api.ts'
import type { StreamEvent } from './stream.ts'
import { ProblemView } from './ui.tsx'

/** Samples of /admin/introspect/stats kept per route and tool (one per poll). */
const SAMPLES = 60
/** How often the panel polls the counters while it is shown. */
const POLL_MS = 2000
/** Calls kept per tool for the per-call chart (from tool.ran events). */
const CALLS = 60

/** One point of a metric's history: its EWMA, last and max latency when the counters were read. */
interface Sample {
  hits: number
  ewma: number
  last: number
  max: number
}

type History = Map<string, Sample[]>

function remember(history: History, prefix: string, metrics: readonly Metric[]): void {
  for (const m of metrics) {
    const key = `${prefix}${m.name}`
    const list = history.get(key) ?? []
    list.push({ hits: m.hits, ewma: m.ewma_ms, last: m.last_ms, max: m.max_ms })
    if (list.length > SAMPLES) list.splice(0, list.length - SAMPLES)
    history.set(key, list)
  }
}

function ms(n: number): string {
  return n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0)
}

const W = 180
const H = 28
/** Floor of the log scale, ms: anything faster is drawn at the left edge. */
const FLOOR_MS = 0.01

/** Where `v` ms falls on a log scale from FLOOR_MS to `top` ms, 0..W. */
function logX(v: number, top: number): number {
  const lo = Math.log10(FLOOR_MS)
  const hi = Math.log10(Math.max(top, FLOOR_MS * 10))
  const at = (Math.log10(Math.max(v, FLOOR_MS)) - lo) / (hi - lo)
  return Math.min(W, Math.max(0, at * W))
}

/**
 * One route's or tool's latency from the latest counters, on a log scale shared by its table: a bar
 * to the EWMA, a dark tick at the last call, an orange tick at the max.
 */
function RangeChart(props: { metric: Metric; top: number }) {
  const m = props.metric
  const ewma = logX(m.ewma_ms, props.top)
  const last = logX(m.last_ms, props.top)
  const max = logX(m.max_ms, props.top)
  const label = `${m.name}: EWMA ${ms(m.ewma_ms)} ms, last ${ms(m.last_ms)} ms, max ${ms(m.max_ms)} ms (log scale up to ${ms(props.top)} ms)`
  return (
    <svg class="chart range" viewBox={`0 0 ${W} 16`} width={W} height={16} role="img" aria-label={label}>
      <title>{label}</title>
      <rect x="0" y="4" width={W} height="8" class="track" />
      <rect x="0" y="4" width={Math.max(1, ewma)} height="8" class="ewma-bar" />
      <rect x={Math.min(W - 2, last)} y="1" width="2" height="14" class="last" />
      <rect x={Math.min(W - 2, max)} y="1" width="2" height="14" class="max" />
    </svg>
  )
}

/** The EWMA over the readings taken while the panel was open (one point per poll). */
function TrendChart(props: { name: string; samples: readonly Sample[] }) {
  const { samples } = props
  const current = samples[samples.length - 1]
  if (!current || samples.length < 2) return <span class="muted small">collecting…</span>
  const top = Math.max(...samples.map((s) => s.ewma), 0.001) * 1.25
  // Spread over the width until the window is full, then one reading per step.
  const step = W / (samples.length - 1)
  const x0 = 0
  const y = (v: number) => H - 2 - (v / top) * (H - 6)
  const line = samples.map((s, i) => `${(x0 + i * step).toFixed(1)},${y(s.ewma).toFixed(1)}`).join(' ')
  const label = `EWMA latency of ${props.name} over the last ${samples.length} readings, now ${ms(current.ewma)} ms`
  return (
    <svg class="chart trend" viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" aria-label={label}>
      <title>{label}</title>
      <line x1="0" y1={H - 0.5} x2={W} y2={H - 0.5} class="axis" />
      <polyline points={line} class="ewma" />
      <circle cx={W - 2.5} cy={y(current.ewma)} r={2.5} class="point" />
    </svg>
  )
}

function MetricTable(props: {
  caption: string
  kind: 'route' | 'tool'
  metrics: readonly Metric[]
  history: History
  calls?: ReadonlyMap<string, CallSeries>
}) {
  if (props.metrics.length === 0) return <p class="muted">No {props.kind} calls counted yet.</p>
  const top = Math.max(...props.metrics.map((x) => x.max_ms))
  return (
    <div class="table-wrap">
      <table class="stats-table" data-table={props.kind}>
        <caption class="visually-hidden">{props.caption}</caption>
        <thead>
          <tr>
            <th scope="col">{props.kind}</th>
            <th scope="col">hits</th>
            <th scope="col">errors</th>
            <th scope="col">EWMA ms</th>
            <th scope="col">last ms</th>
            <th scope="col">max ms</th>
            <th scope="col">latency (log)</th>
            <th scope="col">{props.kind === 'tool' ? 'trend · calls' : 'trend'}</th>
          </tr>
        </thead>
        <tbody>
          {props.metrics.map((m) => {
            const calls = props.calls?.get(m.name)
            return (
              <tr key={m.name} data-name={m.name}>
                <th scope="row">
                  <code>{m.name}</code>
                </th>
                <td data-label="hits">{m.hits}</td>
                <td data-label="errors" class={m.errors > 0 ? 'bad' : undefined}>
                  {m.errors}
                </td>
                <td data-label="EWMA ms">{ms(m.ewma_ms)}</td>
                <td data-label="last ms">{ms(m.last_ms)}</td>
                <td data-label="max ms">{ms(m.max_ms)}</td>
                <td class="chart-cell">
                  <RangeChart metric={m} top={top} />
                </td>
                <td class="chart-cell">
                  <TrendChart name={m.name} samples={props.history.get(`${props.kind}:${m.name}`) ?? []} />
                  {calls ? <CallChart series={calls} /> : null}
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}

interface CallSeries {
  tool: string
  durations: number[]
  errors: boolean[]
}

/** The latency of each of a tool's last calls seen live (tool.ran events), failures in red. */
function callsOf(events: readonly StreamEvent[]): Map<string, CallSeries> {
  const byTool = new Map<string, CallSeries>()
  for (const e of events) {
    if (e.kind !== 'tool.ran') continue
    const p = e.payload as { tool?: string; duration_ms?: number; outcome?: string } | undefined
    if (!p || typeof p.tool !== 'string' || typeof p.duration_ms !== 'number') continue
    let s = byTool.get(p.tool)
    if (!s) {
      s = { tool: p.tool, durations: [], errors: [] }
      byTool.set(p.tool, s)
    }
    s.durations.push(p.duration_ms)
    s.errors.push(p.outcome !== 'ok')
    if (s.durations.length > CALLS) {
      s.durations.shift()
      s.errors.shift()
    }
  }
  return byTool
}

function CallChart(props: { series: CallSeries }) {
  const { durations, errors } = props.series
  const max = Math.max(...durations, 0.001)
  const bar = W / CALLS
  const failed = errors.filter(Boolean).length
  const label = `Latency of the last ${durations.length} calls of ${props.series.tool} seen live (${failed} failed), max ${ms(max)} ms`
  return (
    <svg class="chart calls" viewBox={`0 0 ${W} 20`} width={W} height={20} role="img" aria-label={label}>
      <title>{label}</title>
      {durations.map((d, i) => {
        const h = Math.max(1, (d / max) * 18)
        return (
          <rect
            key={i}
            x={i * bar + 0.5}
            y={20 - h}
            width={Math.max(1, bar - 1)}
            height={h}
            class={errors[i] ? 'bar bar-error' : 'bar'}
          />
        )
      })}
    </svg>
  )
}

export function StatsPanel(props: { api: Api; events: readonly StreamEvent[] }) {
  const [snapshot, setSnapshot] = useState<StatsSnapshot | Problem | undefined>()
  const history = useRef<History>(new Map())
  const [live, setLive] = useState(true)

  const refresh = () =>
    props.api.stats().then((r) => {
      if (r.ok) {
        remember(history.current, 'route:', r.value.routes)
        remember(history.current, 'tool:', r.value.tools)
        setSnapshot(r.value)
      } else setSnapshot(r.problem)
    })

  useEffect(() => {
    if (!live) return
    let stopped = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const tick = () => {
      void refresh().then(() => {
        if (!stopped) timer = setTimeout(tick, POLL_MS)
      })
    }
    tick()
    return () => {
      stopped = true
      clearTimeout(timer)
    }
  }, [live])

  const calls = callsOf(props.events)
  const stats = snapshot && 'routes' in snapshot ? snapshot : undefined

  return (
    <section class="stats-panel" aria-labelledby="stats-heading">
      <div class="panel-head">
        <h2 id="stats-heading">Stats</h2>
        <div class="toolbar">
          <button type="button" aria-pressed={live} onClick={() => setLive(!live)}>
            {live ? 'Stop polling' : 'Poll every 2 s'}
          </button>
          <button type="button" onClick={() => void refresh()}>
            Refresh now
          </button>
        </div>
      </div>
      <p class="muted">
        From <code>/admin/introspect/stats</code> (counters since the daemon started), read every 2 s while
        polling. <em>Latency</em>: EWMA (blue bar), last call (dark tick) and max (orange tick), on a log
        scale shared by the table. <em>Trend</em>: the EWMA over the readings; for tools also each call seen
        live on the event stream (bars, failures in red).
      </p>
      {snapshot && !('routes' in snapshot) ? (
        <ProblemView problem={snapshot} heading="Counters could not be read" />
      ) : null}
      {snapshot === undefined ? <p class="muted">Loading…</p> : null}
      {stats ? (
        <>
          <p class="meta" data-testid="stats-summary">
            since {stats.since} · {stats.events.since_start} events recorded since start · journal head #
            {stats.events.head}
          </p>
          <h3>Tools</h3>
          <MetricTable
            caption="Latency per tool"
            kind="tool"
            metrics={stats.tools}
            history={history.current}
            calls={calls}
          />
          <h3>Routes</h3>
          <MetricTable
            caption="Latency per route"
            kind="route"
            metrics={stats.routes}
            history={history.current}
          />
        </>
      ) : null}
    </section>
  )
}
