import type { Principal } from './principal.ts'

/**
 * The envelope of every journal event. `id` is the journal sequence number (strictly increasing,
 * no holes), which is also the SSE `id:` so `Last-Event-ID` resumes exactly.
 */
export type Severity = 'debug' | 'info' | 'notice' | 'warning' | 'error' | 'critical'

export const SEVERITIES: readonly Severity[] = ['debug', 'info', 'notice', 'warning', 'error', 'critical']

/** Who caused an event: the principal of the call, without its roles and permissions. */
export type EventActor = Pick<Principal, 'kind' | 'id'>

export interface EventEnvelope<P = unknown> {
  id: number
  /** RFC 3339 UTC timestamp with milliseconds. */
  time: string
  kind: string
  /** Version of the kind's payload schema (semver). */
  version: string
  severity: Severity
  trace_id?: string
  span_id?: string
  task_id?: string
  actor?: EventActor
  payload: P
}

/** What a producer hands the journal; it assigns `id` and `time`. */
export type EventDraft<P = unknown> = Omit<EventEnvelope<P>, 'id' | 'time'>
