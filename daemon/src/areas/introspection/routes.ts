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
  examples: Type.Array(
    Type.Object({
      title: Type.Optional(Type.String()),
      input: Type.Unknown({ description: 'An input the tool accepts (checked against its schema).' }),
      output: Type.Optional(
        Type.Unknown({ description: 'What the tool answers to it, when deterministic.' }),
      ),
    }),
    { description: "The tool's declared examples, its typical call first." },
  ),
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
        examples: tool.examples.map((e) => ({ ...e })),
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

export const introspectionRoutes = [listToolsRoute, toolSchemaRoute, statsRoute]
