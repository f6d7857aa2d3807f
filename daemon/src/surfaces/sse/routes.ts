import Type from 'typebox'
import { eventsGap, eventsHello } from '../../events.ts'
import { defineRoute } from '../http/route.ts'
import type { EventHub } from './hub.ts'

export const EventsQuery = Type.Object(
  {
    replay: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 100_000, description: 'Replay the last N journal events first.' }),
    ),
    after: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Resume after this event id (like Last-Event-ID).' }),
    ),
    prefix: Type.Optional(
      Type.String({
        maxLength: 1000,
        description: 'Comma-separated kind prefixes to keep, e.g. tool.,models.',
      }),
    ),
  },
  { additionalProperties: false },
)

export function helloFrame(
  info: { after: number; replayFrom: number | null; replayTo: number | null; head: number },
  prefixes: readonly string[],
): string {
  const payload = {
    after: info.after,
    replay_from: info.replayFrom,
    replay_to: info.replayTo,
    replayed: info.replayTo === null ? 0 : info.replayTo - info.after,
    head: info.head,
    prefixes: [...prefixes],
  }
  return `event: ${eventsHello.kind}\ndata: ${JSON.stringify({ time: new Date().toISOString(), kind: eventsHello.kind, version: eventsHello.version, severity: eventsHello.severity ?? 'info', payload })}\n\n`
}

export function gapFrame(info: { last_id: number; head: number; queued: number }): string {
  return `event: ${eventsGap.kind}\ndata: ${JSON.stringify({ time: new Date().toISOString(), kind: eventsGap.kind, version: eventsGap.version, severity: eventsGap.severity ?? 'warning', payload: info })}\n\n`
}

function lastEventId(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header
  if (value === undefined || !/^\d{1,15}$/.test(value.trim())) return undefined
  return Number(value.trim())
}

export const eventsRoute = defineRoute({
  doc: {
    method: 'GET',
    path: '/admin/events',
    operationId: 'events',
    summary: 'Server-sent events from the journal, with exact resume',
    description:
      'The first frame (`events.hello`, no id) says what is replayed. Every event frame has `id:` = its journal sequence. Resume exactly with the Last-Event-ID header or `?after=`; `?replay=N` replays the last N events; `?prefix=` filters by kind. A heartbeat comment is sent every ARW_SSE_HEARTBEAT_MS. A subscriber that cannot keep up receives `events.gap` and is closed; it resumes from the journal with Last-Event-ID. Precedence: Last-Event-ID, then after, then replay; none means live only. See spec/asyncapi.yaml for every event kind.',
    tags: ['events'],
    auth: 'admin',
    query: EventsQuery,
    headers: Type.Object({
      'last-event-id': Type.Optional(
        Type.String({ description: 'Resume after this event id (sent by EventSource on reconnect).' }),
      ),
    }),
    responses: {
      200: {
        description: 'An event stream (text/event-stream).',
        contentType: 'text/event-stream',
        schema: Type.String(),
      },
    },
  },
  handler: (services) => async (request, reply) => {
    const q = request.query as { replay?: number; after?: number; prefix?: string }
    const head = services.journal.head
    const resume = lastEventId(request.headers['last-event-id'])
    const after = resume ?? q.after ?? (q.replay !== undefined ? Math.max(0, head - q.replay) : head)
    const prefixes = (q.prefix ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '')
    reply.hijack()
    const hub: EventHub = services.hub
    // Response headers set earlier by hooks (traceparent) are copied onto the raw response.
    const headers = reply.getHeaders()
    for (const [name, value] of Object.entries(headers))
      if (value !== undefined) reply.raw.setHeader(name, value as string)
    await hub.serve(reply.raw, { after, prefixes, hello: (info) => helloFrame(info, prefixes) })
  },
})
