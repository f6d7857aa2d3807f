import type { Registry } from '@arw/registry'
import { type JsonObject, toJsonObject } from './json.ts'
import { throwIfProblems } from './spec-error.ts'

export const JSON_SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema'

/**
 * The standalone JSON Schema 2020-12 document of one tool version (spec/schemas/<id>.json):
 *
 * ```json
 * {
 *   "$schema": "https://json-schema.org/draft/2020-12/schema",
 *   "$id": "urn:arw:tool:demo.echo@1.0.0",
 *   "title": "...", "description": "...",
 *   "type": "object",
 *   "properties": { "input": { "$ref": "#/$defs/input" }, "output": { "$ref": "#/$defs/output" } },
 *   "$defs": { "input": { ...input schema }, "output": { ...output schema } }
 * }
 * ```
 *
 * The two schemas live under `$defs` so each can be referenced on its own
 * (`urn:arw:tool:demo.echo@1.0.0#/$defs/input`) and a validator can use them without ARW code.
 * The root validates an `{input, output}` pair (e.g. one recorded call), with neither member
 * required, so the document is also a valid schema as a whole. These files are what the
 * compatibility guard diffs between versions of a tool.
 */
export interface ToolSchemaDocument {
  $schema: typeof JSON_SCHEMA_DIALECT
  $id: string
  title: string
  description: string
  /** JSON Schema 2020-12's annotation: present (true) on a deprecated tool version. */
  deprecated?: true
  type: 'object'
  properties: { input: { $ref: '#/$defs/input' }; output: { $ref: '#/$defs/output' } }
  $defs: { input: JsonObject; output: JsonObject }
}

/** File name of a tool version's schema document under spec/schemas/: `<id>.json`. */
export function toolSchemaFile(id: string): string {
  return `${id}.json`
}

/**
 * Every tool version's schema document, keyed by file name, in registry order (name, newest
 * version first). Every problem found is thrown together as one SpecError.
 */
export function emitToolSchemas(registry: Registry): Map<string, ToolSchemaDocument> {
  const problems: string[] = []
  const out = new Map<string, ToolSchemaDocument>()
  for (const tool of registry.tools()) {
    out.set(toolSchemaFile(tool.id), {
      $schema: JSON_SCHEMA_DIALECT,
      $id: `urn:arw:tool:${tool.id}`,
      title: tool.title,
      description: tool.description,
      ...(tool.stability === 'deprecated' ? { deprecated: true as const } : {}),
      type: 'object',
      properties: { input: { $ref: '#/$defs/input' }, output: { $ref: '#/$defs/output' } },
      $defs: {
        input: toJsonObject(tool.input, `tool ${tool.id} input schema`, problems),
        output: toJsonObject(tool.output, `tool ${tool.id} output schema`, problems),
      },
    })
  }
  throwIfProblems(problems)
  return out
}
