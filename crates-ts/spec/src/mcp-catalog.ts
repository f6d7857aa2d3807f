import type { Registry } from '@arw/registry'
import { type JsonObject, toJsonObject, withExamples } from './json.ts'
import { mcpListing } from './mcp-names.ts'
import { throwIfProblems } from './spec-error.ts'

/** MCP `ToolAnnotations`: advisory hints for clients; absent hints are left out, never guessed. */
export interface McpToolAnnotations {
  title: string
  readOnlyHint?: boolean
  destructiveHint?: boolean
  idempotentHint?: boolean
  openWorldHint?: boolean
}

/** One entry of an MCP `tools/list` result. */
export interface McpTool {
  name: string
  title: string
  description: string
  inputSchema: JsonObject
  outputSchema: JsonObject
  annotations: McpToolAnnotations
  /** ARW facts MCP has no field for, under the `arw/` prefix the MCP spec allows in `_meta`. */
  _meta: JsonObject
}

export interface McpCatalog {
  tools: McpTool[]
}

/**
 * The MCP tool catalog, exactly as an MCP `tools/list` answers it: the live MCP server calls this
 * same function, so spec/mcp-tools.json and what clients see cannot drift apart. Names and order
 * come from `mcpListing` (bare name for the version a bare name resolves to, `<name>_v<version>`
 * for every other version). Schemas are the declared TypeBox schemas as plain JSON: they already
 * are JSON Schema 2020-12, which is what MCP expects.
 */
export function emitMcpCatalog(registry: Registry): McpCatalog {
  const problems: string[] = []
  const tools: McpTool[] = []
  for (const { name, tool } of mcpListing(registry)) {
    const annotations: McpToolAnnotations = { title: tool.title }
    if (tool.hints.readOnly !== undefined) annotations.readOnlyHint = tool.hints.readOnly
    if (tool.hints.destructive !== undefined) annotations.destructiveHint = tool.hints.destructive
    if (tool.hints.idempotent !== undefined) annotations.idempotentHint = tool.hints.idempotent
    if (tool.hints.openWorld !== undefined) annotations.openWorldHint = tool.hints.openWorld
    const meta: JsonObject = {
      'arw/id': tool.id,
      'arw/stability': tool.stability,
      'arw/risk': tool.risk,
      'arw/capabilities': [...tool.capabilities],
    }
    // MCP has no deprecation field; clients that read _meta learn when and to what to move.
    if (tool.deprecation !== undefined) {
      meta['arw/deprecation'] = toJsonObject(tool.deprecation, `tool ${tool.id} deprecation`, problems)
    }
    tools.push({
      name,
      title: tool.title,
      description: tool.description,
      // The tool's declared examples, as JSON Schema 2020-12 `examples` (an annotation validators ignore).
      inputSchema: withExamples(
        toJsonObject(tool.input, `tool ${tool.id} input schema`, problems),
        tool.examples.map((e) => e.input),
      ),
      outputSchema: withExamples(
        toJsonObject(tool.output, `tool ${tool.id} output schema`, problems),
        tool.examples.flatMap((e) => (e.output === undefined ? [] : [e.output])),
      ),
      annotations,
      _meta: meta,
    })
  }
  throwIfProblems(problems)
  return { tools }
}
