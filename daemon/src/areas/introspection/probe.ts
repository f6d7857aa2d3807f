import Type from 'typebox'
import { areaKit } from '../../kernel/area.ts'

const { tool } = areaKit()

/** How many events of a task or trace are read before `step` and `limit` narrow them. */
const SCAN = 10_000
const DEFAULT_LIMIT = 200

/**
 * What the journal knows of a task or a trace, as a tool served at `GET /admin/probe`: the schema
 * says a probe names a task or a trace, so a request naming neither is refused before it runs.
 */
export const probe = tool({
  name: 'introspect.probe',
  version: '1.0.0',
  title: 'What the journal knows of a task or trace',
  description:
    'Events recorded for `task_id` (set by callers in the invoke body) or `trace_id`, oldest first; `step` keeps only the calls of that step.',
  input: Type.Object(
    {
      task_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
      trace_id: Type.Optional(Type.String({ pattern: '^[0-9a-f]{32}$' })),
      step: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: DEFAULT_LIMIT })),
    },
    { additionalProperties: false, anyOf: [{ required: ['task_id'] }, { required: ['trace_id'] }] },
  ),
  output: Type.Object({
    task_id: Type.Union([Type.String(), Type.Null()]),
    trace_id: Type.Union([Type.String(), Type.Null()]),
    step: Type.Union([Type.String(), Type.Null()]),
    count: Type.Integer(),
    events: Type.Array(Type.Unknown()),
  }),
  hints: { readOnly: true, idempotent: true, openWorld: false },
  capabilities: ['introspection'],
  http: { method: 'GET', path: '/admin/probe' },
  examples: [
    { title: 'The events of one trace', input: { trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' } },
    { title: 'The calls of one step of a task', input: { task_id: 'order-42', step: 'charge', limit: 50 } },
  ],
  handler: async ({ task_id, trace_id, step, limit }, { journal }) => {
    let events = await (task_id ? journal.byTask(task_id, SCAN) : journal.byTrace(trace_id!, SCAN))
    if (task_id && trace_id) events = events.filter((e) => e.trace_id === trace_id)
    if (step) events = events.filter((e) => (e.payload as { step?: string } | undefined)?.step === step)
    events = events.slice(0, limit ?? DEFAULT_LIMIT)
    return {
      task_id: task_id ?? null,
      trace_id: trace_id ?? null,
      step: step ?? null,
      count: events.length,
      events,
    }
  },
})
