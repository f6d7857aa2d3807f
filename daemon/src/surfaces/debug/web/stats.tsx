import { useEffect, useState } from 'preact/hooks'
import type { Api, Problem, StatsSnapshot } from './api.ts'
import type { StreamEvent } from './stream.ts'
import { ProblemView } from './ui.tsx'

/** Calls kept per tool for the chart. */
const POINTS = 60

interface Series {
  tool: string
  durations: number[]
  errors: boolean[]
  count: number
  failed: number
}

function seriesOf(events: readonly StreamEvent[]): Series[] {
  const byTool = new Map<string, Series>()
  for (const e of events) {
    if (e.kind !== 'tool.ran') continue
    const p = e.payload as { tool?: string; duration_ms?: number; outcome?: string } | undefined
    if (!p || typeof p.tool !== 'string' || typeof p.duration_ms !== 'number') continue
    let s = byTool.get(p.tool)
    if (!s) {
      s = { tool: p.tool, durations: [], errors: [], count: 0, failed: 0 }
      byTool.set(p.tool, s)
    }
    s.count++
    if (p.outcome !== 'ok') s.failed++
    s.durations.push(p.duration_ms)
    s.errors.push(p.outcome !== 'ok')
    if (s.durations.length > POINTS) {
      s.durations.shift()
      s.errors.shift()
    }
  }
  return [...byTool.values()].sort((a, b) => (a.tool < b.tool ? -1 : 1))
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
}

function ms(n: number): string {
  return n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0)
}

function Chart(props: { series: Series }) {
  const { durations, errors } = props.series
  const width = 240
  const height = 48
  const max = Math.max(...durations, 0.001)
  const bar = width / POINTS
  const sorted = [...durations].sort((a, b) => a - b)
  const label = `Latency of the last ${durations.length} calls of ${props.series.tool}: median ${ms(quantile(sorted, 0.5))} ms, max ${ms(max)} ms`
  return (
    <svg
      class="chart"
      viewBox={`0 0 ${width} ${height}`}
      width={width}
      height={height}
      role="img"
      aria-label={label}
    >
      <title>{label}</title>
      <line x1="0" y1={height - 0.5} x2={width} y2={height - 0.5} class="axis" />
      {durations.map((d, i) => {
        const h = Math.max(1, (d / max) * (height - 4))
        return (
          <rect
            key={i}
            x={i * bar + 0.5}
            y={height - h}
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
  const series = seriesOf(props.events)
  const [snapshot, setSnapshot] = useState<StatsSnapshot | Problem | undefined>()
  const refresh = () => {
    void props.api.stats().then((r) => setSnapshot(r.ok ? r.value : r.problem))
  }
  useEffect(refresh, [])

  return (
    <section class="stats-panel" aria-labelledby="stats-heading">
      <div class="panel-head">
        <h2 id="stats-heading">Stats</h2>
        <div class="toolbar">
          <button type="button" onClick={refresh}>
            Refresh route counters
          </button>
        </div>
      </div>
      <h3>Tool latency</h3>
      <p class="muted">From the tool.ran events received by this page (replayed history and live calls).</p>
      {series.length === 0 ? <p class="muted">No tool calls seen yet.</p> : null}
      <table class="stats-table">
        <thead>
          <tr>
            <th scope="col">tool</th>
            <th scope="col">calls</th>
            <th scope="col">errors</th>
            <th scope="col">p50 ms</th>
            <th scope="col">p95 ms</th>
            <th scope="col">max ms</th>
            <th scope="col">last {POINTS} calls</th>
          </tr>
        </thead>
        <tbody>
          {series.map((s) => {
            const sorted = [...s.durations].sort((a, b) => a - b)
            return (
              <tr key={s.tool} data-tool={s.tool}>
                <th scope="row">
                  <code>{s.tool}</code>
                </th>
                <td>{s.count}</td>
                <td>{s.failed}</td>
                <td>{ms(quantile(sorted, 0.5))}</td>
                <td>{ms(quantile(sorted, 0.95))}</td>
                <td>{ms(sorted[sorted.length - 1] ?? 0)}</td>
                <td>
                  <Chart series={s} />
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
      <h3>Routes since start</h3>
      {snapshot && !('routes' in snapshot) ? (
        <ProblemView problem={snapshot} heading="Counters could not be read" />
      ) : null}
      {snapshot && 'routes' in snapshot ? (
        <table class="stats-table">
          <thead>
            <tr>
              <th scope="col">route</th>
              <th scope="col">hits</th>
              <th scope="col">errors</th>
              <th scope="col">EWMA ms</th>
              <th scope="col">last ms</th>
              <th scope="col">max ms</th>
            </tr>
          </thead>
          <tbody>
            {snapshot.routes.map((m) => (
              <tr key={m.name}>
                <th scope="row">
                  <code>{m.name}</code>
                </th>
                <td>{m.hits}</td>
                <td>{m.errors}</td>
                <td>{ms(m.ewma_ms)}</td>
                <td>{ms(m.last_ms)}</td>
                <td>{ms(m.max_ms)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  )
}
