import { ERRORS, ProblemError } from '@arw/protocol'
import Type from 'typebox'
import { areaKit } from '../../kernel/area.ts'
import { StatsSnapshot } from '../../kernel/metrics.ts'
import { summarize, ToolSummary } from './summary.ts'

const { route } = areaKit()

export const listToolsRoute = route({
  doc: {
    method: 'GET',
    path: '/admin/introspect/tools',
    operationId: 'listTools',
    summary: 'List every registered tool version',
    description: 'Sorted by name, newest version first. `current` marks the version a bare name resolves to.',
    tags: ['introspection'],
    auth: 'admin',
    responses: { 200: { description: 'Every tool version.', schema: Type.Array(ToolSummary) } },
  },
  handler:
    ({ registry }) =>
    async () =>
      registry.tools().map((t) => summarize(t, registry.current(t.name)?.id === t.id)),
})

export const ToolSchemas = Type.Object({
  id: Type.String(),
  title: Type.String(),
  description: Type.String(),
  stability: Type.String(),
  input: Type.Unknown({ description: 'JSON Schema 2020-12 of the input.' }),
  output: Type.Unknown({ description: 'JSON Schema 2020-12 of the output.' }),
  errors: Type.Array(Type.String(), { description: 'Problem codes the tool declares.' }),
})

export const toolSchemaRoute = route({
  doc: {
    method: 'GET',
    path: '/admin/introspect/schemas/{tool_id}',
    operationId: 'getToolSchemas',
    summary: "A tool's input and output schemas",
    description: '`tool_id` with a version names that version; without, the version a bare name resolves to.',
    tags: ['introspection'],
    auth: 'admin',
    params: Type.Object({ tool_id: Type.String() }),
    responses: { 200: { description: 'The schemas.', schema: ToolSchemas } },
  },
  handler:
    ({ registry }) =>
    async (request) => {
      const tool = registry.resolve((request.params as { tool_id: string }).tool_id)
      return {
        id: tool.id,
        title: tool.title,
        description: tool.description,
        stability: tool.stability,
        input: tool.input,
        output: tool.output,
        errors: [...tool.errors],
      }
    },
})

export const ProbeQuery = Type.Object(
  {
    task_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    trace_id: Type.Optional(Type.String({ pattern: '^[0-9a-f]{32}$' })),
    step: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })),
  },
  { additionalProperties: false },
)

export const probeRoute = route({
  doc: {
    method: 'GET',
    path: '/admin/probe',
    operationId: 'probe',
    summary: 'What the journal knows of a task or trace',
    description:
      'Events recorded for `task_id` (set by callers in the invoke body) or `trace_id`, oldest first; `step` keeps only the calls of that step.',
    tags: ['introspection'],
    auth: 'admin',
    query: ProbeQuery,
    responses: {
      200: {
        description: 'The matching events.',
        schema: Type.Object({
          task_id: Type.Union([Type.String(), Type.Null()]),
          trace_id: Type.Union([Type.String(), Type.Null()]),
          step: Type.Union([Type.String(), Type.Null()]),
          count: Type.Integer(),
          events: Type.Array(Type.Unknown()),
        }),
      },
    },
  },
  handler:
    ({ journal }) =>
    async (request) => {
      const q = request.query as { task_id?: string; trace_id?: string; step?: string; limit?: number }
      if (!q.task_id && !q.trace_id) {
        throw new ProblemError(ERRORS.bad_request, { reason: 'give task_id or trace_id' })
      }
      const limit = q.limit ?? 200
      let events = q.task_id ? journal.byTask(q.task_id, 10_000) : journal.byTrace(q.trace_id!, 10_000)
      if (q.task_id && q.trace_id) events = events.filter((e) => e.trace_id === q.trace_id)
      if (q.step) events = events.filter((e) => (e.payload as { step?: string } | undefined)?.step === q.step)
      events = events.slice(0, limit)
      return {
        task_id: q.task_id ?? null,
        trace_id: q.trace_id ?? null,
        step: q.step ?? null,
        count: events.length,
        events,
      }
    },
})

export const statsRoute = route({
  doc: {
    method: 'GET',
    path: '/admin/introspect/stats',
    operationId: 'stats',
    summary: 'Per-route and per-tool metrics, and event totals',
    description:
      'Since daemon start: hits, errors and latency (EWMA, last, max in ms) per route and per tool, and events by kind.',
    tags: ['introspection'],
    auth: 'admin',
    responses: { 200: { description: 'The counters.', schema: StatsSnapshot } },
  },
  handler:
    ({ metrics }) =>
    async () =>
      metrics.snapshot(),
})

export const introspectionRoutes = [listToolsRoute, toolSchemaRoute, probeRoute, statsRoute]
