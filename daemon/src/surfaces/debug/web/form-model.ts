/**
 * The form model of the debug UI: how a tool's input JSON Schema (2020-12, as TypeBox writes it)
 * becomes fields, and how the fields' raw values become the input to send. Pure functions, no DOM,
 * so they are unit-tested in Node and shared by the Preact components.
 *
 * The server is the judge of validity: the form sends what was typed (a number field that does not
 * parse is sent as the string typed) and shows the server's field-level problems next to the fields
 * by JSON pointer. Only text that cannot be sent at all (a JSON field that does not parse) is caught
 * here.
 */

export interface JsonSchema {
  type?: string | string[]
  title?: string
  description?: string
  default?: unknown
  const?: unknown
  enum?: unknown[]
  anyOf?: JsonSchema[]
  oneOf?: JsonSchema[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  additionalProperties?: boolean | JsonSchema
  items?: JsonSchema | JsonSchema[]
  minItems?: number
  maxItems?: number
  uniqueItems?: boolean
  minLength?: number
  maxLength?: number
  pattern?: string
  format?: string
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number
  exclusiveMaximum?: number
  multipleOf?: number
  [key: string]: unknown
}

export interface EnumOption {
  label: string
  value: unknown
}

export type FieldKind =
  | 'string'
  | 'text'
  | 'number'
  | 'integer'
  | 'enum'
  | 'boolean'
  | 'object'
  | 'array'
  | 'json'

/** Raw values of the form by JSON pointer (relative to the input); `<pointer>#n` holds array lengths. */
export type Draft = Readonly<Record<string, string | boolean | number>>

export interface ClientError {
  pointer: string
  message: string
}

/** A DOM id for the control of a pointer ('' is the input as a whole). */
export function fieldId(pointer: string): string {
  return `in${pointer.replace(/[^A-Za-z0-9_-]/g, (c) => `_${c.charCodeAt(0).toString(16)}`)}`
}

/** RFC 6901 escaping of one reference token. */
export function escapeToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1')
}

export function childPointer(pointer: string, token: string | number): string {
  return `${pointer}/${escapeToken(String(token))}`
}

function typeOf(schema: JsonSchema): string | undefined {
  return Array.isArray(schema.type) ? (schema.type.length === 1 ? schema.type[0] : undefined) : schema.type
}

/** The options of an enum-like schema (enum, const, or anyOf/oneOf of consts), else undefined. */
export function enumOptions(schema: JsonSchema): EnumOption[] | undefined {
  if (Array.isArray(schema.enum)) return schema.enum.map((value) => ({ label: labelOf(value), value }))
  if (schema.const !== undefined) return [{ label: labelOf(schema.const), value: schema.const }]
  const branches = schema.anyOf ?? schema.oneOf
  if (Array.isArray(branches) && branches.length > 0 && branches.every((b) => b.const !== undefined)) {
    return branches.map((b) => ({ label: b.title ?? labelOf(b.const), value: b.const }))
  }
  return undefined
}

function labelOf(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value)
}

/** Which control edits a value of this schema. */
export function kindOf(schema: JsonSchema): FieldKind {
  if (enumOptions(schema)) return 'enum'
  switch (typeOf(schema)) {
    case 'string':
      // Long or unbounded free text gets a text area; short, formatted or patterned text a line.
      if (schema.format || schema.pattern) return 'string'
      return schema.maxLength !== undefined && schema.maxLength <= 200 ? 'string' : 'text'
    case 'integer':
      return 'integer'
    case 'number':
      return 'number'
    case 'boolean':
      return 'boolean'
    case 'object':
      return schema.properties && !schema.patternProperties ? 'object' : 'json'
    case 'array':
      return schema.items && !Array.isArray(schema.items) && typeof schema.items === 'object'
        ? 'array'
        : 'json'
    default:
      return 'json'
  }
}

/** The schema's constraints, as short phrases shown under a field. */
export function constraintHints(schema: JsonSchema): string[] {
  const hints: string[] = []
  if (schema.minLength !== undefined && schema.maxLength !== undefined)
    hints.push(`${schema.minLength}–${schema.maxLength} characters`)
  else if (schema.minLength !== undefined) hints.push(`at least ${schema.minLength} characters`)
  else if (schema.maxLength !== undefined) hints.push(`at most ${schema.maxLength} characters`)
  if (schema.pattern !== undefined) hints.push(`pattern ${schema.pattern}`)
  if (schema.format !== undefined) hints.push(`format ${schema.format}`)
  if (typeOf(schema) === 'integer') hints.push('integer')
  if (schema.minimum !== undefined) hints.push(`≥ ${schema.minimum}`)
  if (schema.exclusiveMinimum !== undefined) hints.push(`> ${schema.exclusiveMinimum}`)
  if (schema.maximum !== undefined) hints.push(`≤ ${schema.maximum}`)
  if (schema.exclusiveMaximum !== undefined) hints.push(`< ${schema.exclusiveMaximum}`)
  if (schema.multipleOf !== undefined) hints.push(`multiple of ${schema.multipleOf}`)
  if (schema.minItems !== undefined) hints.push(`at least ${schema.minItems} items`)
  if (schema.maxItems !== undefined) hints.push(`at most ${schema.maxItems} items`)
  if (schema.uniqueItems) hints.push('unique items')
  if (schema.default !== undefined) hints.push(`default ${JSON.stringify(schema.default)}`)
  return hints
}

/** The properties of an object schema in declaration order, with whether each is required. */
export function propertiesOf(
  schema: JsonSchema,
): Array<{ name: string; schema: JsonSchema; required: boolean }> {
  const required = new Set(schema.required ?? [])
  return Object.entries(schema.properties ?? {}).map(([name, s]) => ({
    name,
    schema: s,
    required: required.has(name),
  }))
}

export function itemSchema(schema: JsonSchema): JsonSchema {
  return schema.items && !Array.isArray(schema.items) ? schema.items : {}
}

/** The default of a node: its own, else the one inherited from an enclosing default. */
export function defaultOf(schema: JsonSchema, inherited: unknown): unknown {
  return inherited !== undefined ? inherited : schema.default
}

function childDefault(parent: unknown, key: string | number): unknown {
  if (parent === null || typeof parent !== 'object') return undefined
  return (parent as Record<string | number, unknown>)[key]
}

/** The raw value a control shows: what was typed, else the default rendered for that control. */
export function rawValue(
  kind: FieldKind,
  schema: JsonSchema,
  pointer: string,
  draft: Draft,
  dflt: unknown,
  required: boolean,
): string | boolean {
  const typed = draft[pointer]
  if (typed !== undefined && typeof typed !== 'number') return typed
  switch (kind) {
    case 'boolean':
      if (required) return dflt === true
      return dflt === undefined ? '' : String(dflt === true)
    case 'enum': {
      const options = enumOptions(schema) ?? []
      const at = options.findIndex((o) => JSON.stringify(o.value) === JSON.stringify(dflt))
      if (at >= 0) return String(at)
      return required && options.length > 0 ? '0' : ''
    }
    case 'json':
      return dflt === undefined ? '' : JSON.stringify(dflt, null, 2)
    default:
      return dflt === undefined || dflt === null ? '' : String(dflt)
  }
}

/** How many items an array field shows: as set, else the default's length, else minItems. */
export function arrayLength(schema: JsonSchema, pointer: string, draft: Draft, dflt: unknown): number {
  const n = draft[`${pointer}#n`]
  if (typeof n === 'number') return n
  if (Array.isArray(dflt)) return dflt.length
  return schema.minItems ?? 0
}

export interface Collected {
  present: boolean
  value?: unknown
}

/**
 * The value of one node from the draft. Optional fields left empty are omitted; a required one left
 * empty is omitted too (except strings, which are sent as ""), so the server names what is missing.
 */
export function collect(
  schema: JsonSchema,
  pointer: string,
  required: boolean,
  inherited: unknown,
  draft: Draft,
  errors: ClientError[],
): Collected {
  const kind = kindOf(schema)
  const dflt = defaultOf(schema, inherited)
  switch (kind) {
    case 'object': {
      const out: Record<string, unknown> = {}
      let any = false
      for (const p of propertiesOf(schema)) {
        const c = collect(
          p.schema,
          childPointer(pointer, p.name),
          p.required,
          childDefault(dflt, p.name),
          draft,
          errors,
        )
        if (c.present) {
          out[p.name] = c.value
          any = true
        }
      }
      return required || any ? { present: true, value: out } : { present: false }
    }
    case 'array': {
      const n = arrayLength(schema, pointer, draft, dflt)
      const items: unknown[] = []
      for (let i = 0; i < n; i++) {
        const c = collect(
          itemSchema(schema),
          childPointer(pointer, i),
          true,
          childDefault(dflt, i),
          draft,
          errors,
        )
        items.push(c.present ? c.value : null)
      }
      return required || n > 0 ? { present: true, value: items } : { present: false }
    }
    case 'boolean': {
      const raw = rawValue(kind, schema, pointer, draft, dflt, required)
      if (typeof raw === 'boolean') return { present: true, value: raw }
      return raw === '' ? { present: false } : { present: true, value: raw === 'true' }
    }
    case 'enum': {
      const raw = String(rawValue(kind, schema, pointer, draft, dflt, required))
      const option = raw === '' ? undefined : enumOptions(schema)?.[Number(raw)]
      return option ? { present: true, value: option.value } : { present: false }
    }
    case 'number':
    case 'integer': {
      const raw = String(rawValue(kind, schema, pointer, draft, dflt, required)).trim()
      if (raw === '') return { present: false }
      const n = Number(raw)
      // Sent as typed when it is not a number, so the server's problem names the field.
      return { present: true, value: Number.isFinite(n) ? n : raw }
    }
    case 'json': {
      const raw = String(rawValue(kind, schema, pointer, draft, dflt, required))
      if (raw.trim() === '') return { present: false }
      try {
        return { present: true, value: JSON.parse(raw) }
      } catch (error) {
        errors.push({ pointer, message: `is not valid JSON (${(error as Error).message})` })
        return { present: false }
      }
    }
    default: {
      const raw = String(rawValue(kind, schema, pointer, draft, dflt, required))
      return raw === '' && !required ? { present: false } : { present: true, value: raw }
    }
  }
}

/** The whole input of a tool from the draft, or the client-side errors that prevent sending it. */
export function buildInput(schema: JsonSchema, draft: Draft): { input: unknown; errors: ClientError[] } {
  const errors: ClientError[] = []
  const c = collect(schema, '', true, undefined, draft, errors)
  return { input: c.present ? c.value : {}, errors }
}

/** Every pointer the form renders a field or group for ('' is the form itself). */
export function renderedPointers(schema: JsonSchema, draft: Draft): Set<string> {
  const out = new Set<string>()
  const walk = (s: JsonSchema, pointer: string, inherited: unknown) => {
    out.add(pointer)
    const kind = kindOf(s)
    const dflt = defaultOf(s, inherited)
    if (kind === 'object') {
      for (const p of propertiesOf(s))
        walk(p.schema, childPointer(pointer, p.name), childDefault(dflt, p.name))
    } else if (kind === 'array') {
      const n = arrayLength(s, pointer, draft, dflt)
      for (let i = 0; i < n; i++) walk(itemSchema(s), childPointer(pointer, i), childDefault(dflt, i))
    }
  }
  walk(schema, '', undefined)
  return out
}

/**
 * Places problem errors (pointers under `/input`) on the fields they name: each goes to its own
 * field when rendered, else to the nearest rendered enclosing group ('' = the form as a whole).
 */
export function placeErrors(
  errors: ReadonlyArray<{ pointer?: string; message: string }>,
  rendered: ReadonlySet<string>,
): Map<string, string[]> {
  const placed = new Map<string, string[]>()
  for (const e of errors) {
    let pointer = e.pointer ?? ''
    if (pointer === '/input' || pointer.startsWith('/input/')) pointer = pointer.slice('/input'.length)
    else pointer = ''
    let at = pointer
    let message = e.message
    while (at !== '' && !rendered.has(at)) {
      at = at.slice(0, at.lastIndexOf('/'))
    }
    if (at !== pointer) message = `${pointer.slice(at.length + 1) || pointer}: ${message}`
    const list = placed.get(at) ?? []
    list.push(message)
    placed.set(at, list)
  }
  return placed
}

/** The draft with item `index` of the array at `pointer` removed (later items move up by one). */
export function removeArrayItem(draft: Draft, pointer: string, index: number, length: number): Draft {
  const out: Record<string, string | boolean | number> = {}
  const prefix = `${pointer}/`
  for (const [key, value] of Object.entries(draft)) {
    if (!key.startsWith(prefix)) {
      out[key] = value
      continue
    }
    const rest = key.slice(prefix.length)
    const match = /^(\d+)(.*)$/.exec(rest)
    if (!match) {
      out[key] = value
      continue
    }
    const i = Number(match[1])
    if (i < index) out[key] = value
    else if (i > index) out[`${prefix}${i - 1}${match[2]}`] = value
  }
  out[`${pointer}#n`] = Math.max(0, length - 1)
  return out
}
