import { useEffect, useState } from 'preact/hooks'
import type { Api, Problem } from './api.ts'
import type { StreamEvent, StreamState } from './stream.ts'
import { summarize } from './tools.tsx'
import { formatTime, ProblemView } from './ui.tsx'

/** Rows rendered at most: the newest ones (the buffer itself holds more). */
const MAX_ROWS = 500

function prefixesOf(filter: string): string[] {
  return filter
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
}

export function EventRow(props: { event: StreamEvent }) {
  const e = props.event
  return (
    <li class={`event sev-${e.severity}`} data-event-id={e.id} data-kind={e.kind}>
      <details>
        <summary>
          <span class="event-id">#{e.id}</span>
          <span class="event-time">{formatTime(e.time)}</span>
          <span class={`sev sev-badge-${e.severity}`}>{e.severity}</span>
          <span class="event-kind">{e.kind}</span>
          <span class="event-summary">{summarize(e)}</span>
          {e.trace_id ? (
            <a class="event-trace" href={`#/events/trace/${e.trace_id}`} title="Events of this trace">
              {e.trace_id.slice(0, 8)}…
            </a>
          ) : null}
        </summary>
        <pre class="json" title={`Event ${e.id}`}>
          {JSON.stringify(
            {
              id: e.id,
              time: e.time,
              kind: e.kind,
              version: e.version,
              severity: e.severity,
              trace_id: e.trace_id,
              payload: e.payload,
            },
            null,
            2,
          )}
        </pre>
      </details>
    </li>
  )
}

export function EventsPanel(props: {
  api: Api
  events: readonly StreamEvent[]
  state: StreamState
  trace: string | undefined
  paused: boolean
  onPause: () => void
  onResume: () => void
  onReconnect: () => void
  onClear: () => void
}) {
  const [filter, setFilter] = useState('')
  const prefixes = prefixesOf(filter)
  const [probe, setProbe] = useState<{ trace: string; events: StreamEvent[] } | Problem | undefined>()

  useEffect(() => {
    if (!props.trace) {
      setProbe(undefined)
      return
    }
    const trace = props.trace
    let live = true
    void props.api.probe(trace).then((r) => {
      if (!live) return
      setProbe(r.ok ? { trace, events: r.value.events } : r.problem)
    })
    return () => {
      live = false
    }
  }, [props.trace])

  let shown: StreamEvent[]
  if (props.trace) {
    // The trace's recorded events (probe) joined with any that arrived live since.
    const byId = new Map<number, StreamEvent>()
    if (probe && 'events' in probe) for (const e of probe.events) byId.set(e.id, e)
    for (const e of props.events) if (e.trace_id === props.trace) byId.set(e.id, e)
    shown = [...byId.values()].sort((a, b) => a.id - b.id)
  } else {
    shown = props.events.filter((e) => prefixes.length === 0 || prefixes.some((p) => e.kind.startsWith(p)))
  }
  const rows = shown.slice(-MAX_ROWS).reverse()
  const s = props.state

  return (
    <section class="events-panel" aria-labelledby="events-heading">
      <div class="panel-head">
        <h2 id="events-heading">{props.trace ? 'Events of one trace' : 'Events'}</h2>
        <div class="toolbar">
          {props.trace ? (
            <a href="#/events" class="button">
              Show all events
            </a>
          ) : (
            <>
              <label for="event-filter">Kind prefix</label>
              <input
                id="event-filter"
                type="search"
                placeholder="e.g. tool., daemon."
                autoComplete="off"
                spellcheck={false}
                value={filter}
                aria-describedby="event-filter-help"
                onInput={(e) => setFilter(e.currentTarget.value)}
              />
              <span id="event-filter-help" class="visually-hidden">
                Comma-separated kind prefixes; empty shows every event.
              </span>
            </>
          )}
          {props.paused ? (
            <button type="button" class="primary" onClick={props.onResume}>
              Resume
            </button>
          ) : (
            <button type="button" onClick={props.onPause}>
              Pause
            </button>
          )}
          <button
            type="button"
            onClick={props.onReconnect}
            title="Close the stream and open it again, resuming after the last id seen"
          >
            Reconnect
          </button>
          <button type="button" onClick={props.onClear}>
            Clear
          </button>
        </div>
      </div>
      <dl class="stream-facts" aria-label="Stream">
        <div>
          <dt>status</dt>
          <dd data-testid="stream-status">{s.status}</dd>
        </div>
        <div>
          <dt>last id</dt>
          <dd data-testid="last-id">{s.lastId ?? '–'}</dd>
        </div>
        <div>
          <dt>reconnects</dt>
          <dd data-testid="reconnects">{s.reconnects}</dd>
        </div>
        <div>
          <dt>gap notices</dt>
          <dd data-testid="gap-notices" class={s.gapNotices > 0 ? 'warn' : undefined}>
            {s.gapNotices}
          </dd>
        </div>
        <div>
          <dt>missing ids</dt>
          <dd data-testid="missing-ids" class={s.missing > 0 ? 'bad' : undefined}>
            {s.missing}
          </dd>
        </div>
        <div>
          <dt>shown</dt>
          <dd>
            {rows.length} of {props.trace ? shown.length : props.events.length}
          </dd>
        </div>
      </dl>
      {props.trace ? (
        <p class="meta">
          trace <code>{props.trace}</code>
        </p>
      ) : null}
      {probe && !('events' in probe) ? (
        <ProblemView problem={probe} heading="The trace could not be read" />
      ) : null}
      {s.message && s.status !== 'open' ? <p class="notice">{s.message}</p> : null}
      {rows.length === 0 ? <p class="muted">No events yet.</p> : null}
      <ol class="event-list" aria-label="Events, newest first" reversed>
        {rows.map((e) => (
          <EventRow key={e.id} event={e} />
        ))}
      </ol>
    </section>
  )
}
