import type { ComponentChildren } from 'preact'
import type { Problem } from './api.ts'

export function Badge(props: { tone: string; children: ComponentChildren; title?: string }) {
  return (
    <span class={`badge badge-${props.tone}`} title={props.title}>
      {props.children}
    </span>
  )
}

export function JsonBlock(props: { value: unknown; label: string }) {
  return (
    <pre class="json" title={props.label}>
      {JSON.stringify(props.value, null, 2) ?? 'undefined'}
    </pre>
  )
}

export function traceHref(traceId: string): string {
  return `#/events/trace/${traceId}`
}

export function TraceLink(props: { traceId: string }) {
  return (
    <a class="trace" href={traceHref(props.traceId)} title="Show the events of this call">
      <code>{props.traceId}</code>
    </a>
  )
}

/** A problem (RFC 7807) as people read it. Field errors are listed too (the form also shows them in place). */
export function ProblemView(props: { problem: Problem; heading?: string }) {
  const p = props.problem
  return (
    <section class="problem" role="alert" aria-labelledby="problem-title">
      <h3 id="problem-title">
        {props.heading ?? p.title} {p.status ? <span class="status">HTTP {p.status}</span> : null}
        {p.code ? <Badge tone="error">{p.code}</Badge> : null}
      </h3>
      {props.heading ? <p class="problem-title">{p.title}</p> : null}
      {p.detail ? <p class="detail">{p.detail}</p> : null}
      {p.errors && p.errors.length > 0 ? (
        <ul class="problem-errors">
          {p.errors.map((e, i) => (
            <li key={i}>
              <code>{e.pointer || '/'}</code> {e.message}
            </li>
          ))}
        </ul>
      ) : null}
      {p.trace_id ? (
        <p class="meta">
          trace <TraceLink traceId={p.trace_id} />
        </p>
      ) : null}
    </section>
  )
}

export function formatTime(iso: string): string {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  const pad = (n: number, w = 2) => String(n).padStart(w, '0')
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
}
