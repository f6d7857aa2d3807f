import type { Journal } from '@arw/store'
import Type, { type Static } from 'typebox'
import { EventLoopDelay, EventLoopSnapshot } from './event-loop.ts'

/** Smoothing of the latency EWMA: each new sample weighs 20%. */
const ALPHA = 0.2

export const Metric = Type.Object({
  name: Type.String(),
  hits: Type.Integer({ minimum: 0 }),
  errors: Type.Integer({
    minimum: 0,
    description: 'Answers with status >= 400 (routes) or outcomes other than ok (tools).',
  }),
  ewma_ms: Type.Number({ minimum: 0 }),
  last_ms: Type.Number({ minimum: 0 }),
  max_ms: Type.Number({ minimum: 0 }),
})
export type Metric = Static<typeof Metric>

export const StatsSnapshot = Type.Object({
  since: Type.String({ description: 'When counting started (daemon start), RFC 3339.' }),
  events: Type.Object({
    head: Type.Integer({ minimum: 0, description: 'Journal head: events ever recorded.' }),
    oldest: Type.Integer({
      minimum: 1,
      description:
        'Oldest event id still in the journal (1 unless ARW_JOURNAL_RETENTION removed older ones).',
    }),
    since_start: Type.Integer({ minimum: 0 }),
    by_kind: Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
  }),
  routes: Type.Array(Metric),
  tools: Type.Array(Metric),
  event_loop: EventLoopSnapshot,
})
export type StatsSnapshot = Static<typeof StatsSnapshot>

class Meter {
  readonly #metrics = new Map<string, Metric>()

  record(name: string, ms: number, error: boolean): void {
    let m = this.#metrics.get(name)
    if (!m) {
      m = { name, hits: 0, errors: 0, ewma_ms: ms, last_ms: 0, max_ms: 0 }
      this.#metrics.set(name, m)
    }
    m.hits++
    if (error) m.errors++
    m.ewma_ms = m.ewma_ms + ALPHA * (ms - m.ewma_ms)
    m.last_ms = ms
    if (ms > m.max_ms) m.max_ms = ms
  }

  snapshot(): Metric[] {
    return [...this.#metrics.values()]
      .map((m) => ({ ...m, ewma_ms: round(m.ewma_ms), last_ms: round(m.last_ms), max_ms: round(m.max_ms) }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000
}

/**
 * Daemon-wide metrics, fed by the surfaces (routes) and the journal (tools), served by the
 * introspection area. Per-route and per-tool counters since start: hits, errors and latency
 * (EWMA, last, max), plus event totals by kind. Tool figures come from the journal's call records, so calls from every
 * surface (HTTP, MCP, nested) count alike.
 */
export class Metrics {
  readonly routes = new Meter()
  readonly tools = new Meter()
  readonly eventLoop = new EventLoopDelay()
  readonly #byKind = new Map<string, number>()
  readonly #since = new Date().toISOString()
  readonly #journal: Journal
  #count = 0

  constructor(journal: Journal) {
    this.#journal = journal
    journal.subscribe((record) => {
      this.#count++
      this.#byKind.set(record.kind, (this.#byKind.get(record.kind) ?? 0) + 1)
      if (record.kind === 'tool.ran') {
        const p = record.event.payload as { tool: string; outcome: string; duration_ms: number }
        this.tools.record(p.tool, p.duration_ms, p.outcome !== 'ok')
      }
    })
  }

  snapshot(): StatsSnapshot {
    return {
      since: this.#since,
      events: {
        head: this.#journal.head,
        oldest: this.#journal.oldest,
        since_start: this.#count,
        by_kind: Object.fromEntries([...this.#byKind.entries()].sort(([a], [b]) => (a < b ? -1 : 1))),
      },
      routes: this.routes.snapshot(),
      tools: this.tools.snapshot(),
      event_loop: this.eventLoop.snapshot(),
    }
  }
}
