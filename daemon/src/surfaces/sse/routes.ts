import Type from 'typebox'
import { defineRoute } from '../../kernel/route.ts'
import { STREAM_HEADERS } from '../../kernel/stream-headers.ts'
import type { Services } from '../../services.ts'
import { helloFrame } from './frames.ts'
import { sseHub } from './state.ts'

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

function lastEventId(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header
  if (value === undefined || !/^\d{1,15}$/.test(value.trim())) return undefined
  return Number(value.trim())
}

export const eventsRoute = defineRoute<Services>({
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
        headers: STREAM_HEADERS,
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
    const hub = sseHub(services)
    // Response headers set earlier by hooks (traceparent) are copied onto the raw response.
    const headers = reply.getHeaders()
    for (const [name, value] of Object.entries(headers))
      if (value !== undefined) reply.raw.setHeader(name, value as string)
    await hub.serve(reply.raw, { after, prefixes, hello: (info) => helloFrame(info, prefixes) })
  },
})
