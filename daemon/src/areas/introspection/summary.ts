import type { RegisteredTool } from '@arw/registry'
import Type, { type Static } from 'typebox'

/** How a tool is described to people and agents listing tools (no schemas: those are per id). */
export const ToolSummary = Type.Object(
  {
    id: Type.String({ description: 'name@version' }),
    name: Type.String(),
    version: Type.String(),
    title: Type.String(),
    description: Type.String(),
    stability: Type.Union([Type.Literal('stable'), Type.Literal('experimental'), Type.Literal('deprecated')]),
    current: Type.Boolean({ description: 'True when the bare name resolves to this version.' }),
    risk: Type.Union([
      Type.Literal('low'),
      Type.Literal('medium'),
      Type.Literal('high'),
      Type.Literal('critical'),
    ]),
    hints: Type.Object({
      readOnly: Type.Optional(Type.Boolean()),
      destructive: Type.Optional(Type.Boolean()),
      idempotent: Type.Optional(Type.Boolean()),
      openWorld: Type.Optional(Type.Boolean()),
    }),
    capabilities: Type.Array(Type.String()),
    errors: Type.Array(Type.String()),
    timeout_ms: Type.Integer(),
    deprecation: Type.Optional(
      Type.Object({
        since: Type.Optional(Type.String()),
        sunset: Type.Optional(Type.String()),
        replacement: Type.Optional(Type.String()),
        link: Type.Optional(Type.String()),
      }),
    ),
  },
  { additionalProperties: false },
)
export type ToolSummary = Static<typeof ToolSummary>

export function summarize(tool: RegisteredTool, current: boolean): ToolSummary {
  const summary: ToolSummary = {
    id: tool.id,
    name: tool.name,
    version: tool.version,
    title: tool.title,
    description: tool.description,
    stability: tool.stability,
    current,
    risk: tool.risk,
    hints: { ...tool.hints },
    capabilities: [...tool.capabilities],
    errors: [...tool.errors],
    timeout_ms: tool.timeoutMs,
  }
  if (tool.deprecation) summary.deprecation = { ...tool.deprecation }
  return summary
}
