import Type from 'typebox'
import { EventLoopSnapshot } from '../../kernel/event-loop.ts'
import { defineRoute } from '../../kernel/route.ts'
import type { Services } from '../../services.ts'

export const Health = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')], {
    description:
      'degraded: the latest journal commit failed (a full or failing disk), so calls are answered 503 unavailable until the store accepts writes again (reads still work); or the event loop stays stalled (event_loop.stalled), so every request waits.',
  }),
  version: Type.String(),
  uptime_s: Type.Number(),
  journal_head: Type.Integer({ minimum: 0 }),
  durability: Type.Union([Type.Literal('commit'), Type.Literal('fsync')]),
  journal_commit_failures: Type.Integer({
    minimum: 0,
    description: 'Journal commits (or fsync flushes) that failed since start.',
  }),
  journal_last_failure_at: Type.Optional(
    Type.String({ format: 'date-time', description: 'When the last journal commit failed.' }),
  ),
  event_loop: EventLoopSnapshot,
})

export const healthRoute = defineRoute<Services>({
  doc: {
    method: 'GET',
    path: '/healthz',
    operationId: 'health',
    summary: 'Liveness and basic facts',
    description:
      'Answers 200 when the daemon serves requests and its store is open, with status degraded while the journal cannot commit (calls are refused then; liveness probes should not restart the daemon for it) or while the event loop stays stalled. No authentication.',
    tags: ['introspection'],
    auth: 'public',
    responses: { 200: { description: 'The daemon is up.', schema: Health } },
  },
  handler: (services) => async () => {
    const journal = services.journal.health
    const eventLoop = services.metrics.eventLoop.snapshot()
    return {
      status: journal.failing || eventLoop.stalled ? ('degraded' as const) : ('ok' as const),
      version: services.version,
      uptime_s: Math.round((Date.now() - services.startedAt) / 10) / 100,
      journal_head: services.journal.head,
      durability: services.config.durability,
      journal_commit_failures: journal.commitFailures,
      ...(journal.lastFailureAt ? { journal_last_failure_at: journal.lastFailureAt } : {}),
      event_loop: eventLoop,
    }
  },
})
