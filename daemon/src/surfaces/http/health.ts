import Type from 'typebox'
import { defineRoute } from './route.ts'

export const Health = Type.Object({
  status: Type.Literal('ok'),
  version: Type.String(),
  uptime_s: Type.Number(),
  journal_head: Type.Integer({ minimum: 0 }),
  durability: Type.Union([Type.Literal('commit'), Type.Literal('fsync')]),
})

export const healthRoute = defineRoute({
  doc: {
    method: 'GET',
    path: '/healthz',
    operationId: 'health',
    summary: 'Liveness and basic facts',
    description: 'Answers 200 when the daemon serves requests and its store is open. No authentication.',
    tags: ['introspection'],
    auth: 'public',
    responses: { 200: { description: 'The daemon is up.', schema: Health } },
  },
  handler: (services) => async () => ({
    status: 'ok' as const,
    version: services.version,
    uptime_s: Math.round((Date.now() - services.startedAt) / 10) / 100,
    journal_head: services.journal.head,
    durability: services.config.durability,
  }),
})
