import { freemem, loadavg, totalmem, uptime } from 'node:os'
import { defineTool } from '@arw/registry'
import Type from 'typebox'
import { areaKit } from '../../kernel/area.ts'
import { summarize, ToolSummary } from './summary.ts'

const { tool } = areaKit()

/** Memory figures of this process and of the machine, for agents that size their own work. */
export const memoryProbe = defineTool({
  name: 'memory.probe',
  version: '1.0.0',
  title: 'Probe memory',
  description:
    'Reports the daemon process memory (resident set, V8 heap, external and array buffers) and the machine memory (total, free), with load averages and uptimes.',
  input: Type.Object({}, { additionalProperties: false }),
  output: Type.Object(
    {
      process: Type.Object({
        rss_bytes: Type.Integer({ minimum: 0 }),
        heap_total_bytes: Type.Integer({ minimum: 0 }),
        heap_used_bytes: Type.Integer({ minimum: 0 }),
        external_bytes: Type.Integer({ minimum: 0 }),
        array_buffers_bytes: Type.Integer({ minimum: 0 }),
        uptime_s: Type.Number({ minimum: 0 }),
      }),
      system: Type.Object({
        total_bytes: Type.Integer({ minimum: 0 }),
        free_bytes: Type.Integer({ minimum: 0 }),
        used_ratio: Type.Number({ minimum: 0, maximum: 1 }),
        load_avg: Type.Array(Type.Number(), { minItems: 3, maxItems: 3 }),
        uptime_s: Type.Number({ minimum: 0 }),
      }),
    },
    { additionalProperties: false },
  ),
  hints: { readOnly: true, idempotent: false, openWorld: false },
  capabilities: ['introspection'],
  timeoutMs: 1000,
  examples: [{ title: 'Memory of the daemon and the machine', input: {} }],
  handler: () => {
    const m = process.memoryUsage()
    const total = totalmem()
    const free = freemem()
    return {
      process: {
        rss_bytes: m.rss,
        heap_total_bytes: m.heapTotal,
        heap_used_bytes: m.heapUsed,
        external_bytes: m.external,
        array_buffers_bytes: m.arrayBuffers,
        uptime_s: Math.round(process.uptime() * 1000) / 1000,
      },
      system: {
        total_bytes: total,
        free_bytes: free,
        used_ratio: total > 0 ? Math.round(((total - free) / total) * 10000) / 10000 : 0,
        load_avg: loadavg(),
        uptime_s: uptime(),
      },
    }
  },
})

/** The tool list as a tool, so an agent can discover what else it may call. */
export const introspectTools = tool({
  name: 'introspect.tools',
  version: '1.0.0',
  title: 'List tools',
  description:
    'Lists the registered tools with their versions, stability, risk, hints and capabilities. Filter by a text query, a capability, or include every version rather than only the current ones.',
  input: Type.Object(
    {
      query: Type.Optional(
        Type.String({ maxLength: 200, description: 'Case-insensitive text in id, title or description.' }),
      ),
      capability: Type.Optional(Type.String({ maxLength: 100 })),
      all_versions: Type.Optional(Type.Boolean({ default: false })),
    },
    { additionalProperties: false },
  ),
  output: Type.Object(
    { tools: Type.Array(ToolSummary), count: Type.Integer({ minimum: 0 }) },
    { additionalProperties: false },
  ),
  hints: { readOnly: true, idempotent: true, openWorld: false },
  capabilities: ['introspection'],
  timeoutMs: 1000,
  examples: [
    { title: 'Tools about time', input: { query: 'time' } },
    { title: 'Every version of the crypto tools', input: { capability: 'crypto', all_versions: true } },
  ],
  handler: ({ query, capability, all_versions }, { registry }) => {
    const q = query?.toLowerCase()
    const list = all_versions ? registry.tools() : registry.currentTools()
    const tools = list
      .filter((t) => !capability || t.capabilities.includes(capability))
      .filter((t) => !q || `${t.id}\n${t.title}\n${t.description}`.toLowerCase().includes(q))
      .map((t) => summarize(t, registry.current(t.name)?.id === t.id))
    return { tools, count: tools.length }
  },
})
