import type { FieldError } from '@arw/protocol'
import type { TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import { Value } from 'typebox/value'

/**
 * A validator compiled once from a schema. `check` is the fast path used on every call; `errors`
 * runs only on failure and turns TypeBox's findings into one entry per failing field, addressed
 * by JSON pointer, with the noise of union branches folded into one readable message.
 */
export interface Validator {
  check(value: unknown): boolean
  errors(value: unknown): FieldError[]
  /** Applies the schema's `default`s to a copy of the value (identity when the schema has none). */
  withDefaults(value: unknown): unknown
}

interface RawError {
  keyword: string
  schemaPath: string
  instancePath: string
  params: Record<string, unknown>
  message: string
}

function hasDefaults(schema: unknown): boolean {
  if (schema === null || typeof schema !== 'object') return false
  if (Array.isArray(schema)) return schema.some(hasDefaults)
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'default') return true
    if (hasDefaults(value)) return true
  }
  return false
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1')
}

function unionMessage(schema: TSchema | undefined): string | undefined {
  const branches = (schema as { anyOf?: unknown[] } | undefined)?.anyOf
  if (!Array.isArray(branches)) return undefined
  const consts = branches.map((b) => (b as { const?: unknown }).const)
  if (consts.every((c) => c !== undefined))
    return `must be one of ${consts.map((c) => JSON.stringify(c)).join(', ')}`
  // `anyOf: [{ required: ['a'] }, { required: ['b'] }]`: an object that needs a or b.
  const required = branches.map((b) => {
    const branch = b as { required?: unknown }
    return Object.keys(branch).length === 1 && Array.isArray(branch.required) ? branch.required : undefined
  })
  if (required.every((r) => r !== undefined && r.length > 0))
    return `needs ${required.map((r) => r!.join(' and ')).join(' or ')}`
  return undefined
}

function schemaAt(root: TSchema, schemaPath: string): TSchema | undefined {
  let node: unknown = root
  for (const part of schemaPath.replace(/^#\/?/, '').split('/')) {
    if (part === '') continue
    if (node === null || typeof node !== 'object') return undefined
    node = (node as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')]
  }
  return node as TSchema | undefined
}

export function compileValidator(schema: TSchema): Validator {
  const compiled = Compile(schema)
  const defaults = hasDefaults(schema)
  return {
    check: (value) => compiled.Check(value),
    errors(value) {
      const raw = compiled.Errors(value) as unknown as RawError[]
      const unions = raw
        .filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf')
        .map((e) => e.schemaPath)
      const extraProps = new Set<string>()
      const out: FieldError[] = []
      for (const e of raw) {
        // Branch failures of a union are summarised by the union's own error.
        if (unions.some((u) => e.schemaPath !== u && e.schemaPath.startsWith(u + '/'))) continue
        if (e.keyword === 'additionalProperties') {
          const names = (e.params['additionalProperties'] as string[] | undefined) ?? []
          for (const name of names) {
            const pointer = `${e.instancePath}/${escapePointer(name)}`
            extraProps.add(pointer)
            out.push({ pointer, message: 'is not an allowed property', keyword: 'additionalProperties' })
          }
          continue
        }
        if (e.keyword === 'anyOf' || e.keyword === 'oneOf') {
          const message = unionMessage(schemaAt(schema, e.schemaPath)) ?? e.message
          out.push({ pointer: e.instancePath, message, keyword: e.keyword })
          continue
        }
        if (e.keyword === 'required') {
          const names = (e.params['requiredProperties'] as string[] | undefined) ?? []
          if (names.length > 0) {
            for (const name of names) {
              out.push({
                pointer: `${e.instancePath}/${escapePointer(name)}`,
                message: 'is required',
                keyword: 'required',
              })
            }
            continue
          }
        }
        out.push({ pointer: e.instancePath, message: e.message, keyword: e.keyword })
      }
      // `additionalProperties: false` is also reported as a false boolean schema at the property.
      const deduped = out.filter((e) => !(e.keyword === 'boolean' && extraProps.has(e.pointer)))
      if (deduped.length === 0 && !compiled.Check(value)) {
        deduped.push({ pointer: '', message: 'does not match the schema', keyword: 'schema' })
      }
      return deduped
    },
    withDefaults(value) {
      if (!defaults) return value
      return Value.Default(schema, Value.Clone(value))
    },
  }
}
