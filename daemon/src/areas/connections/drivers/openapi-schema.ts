import { Ajv2020 } from 'ajv/dist/2020.js'
import type { JsonSchema } from '../driver.ts'

/**
 * Schemas of an OpenAPI document turned into self-contained JSON Schema 2020-12 values, the form the
 * registry validates with: local `$ref`s inlined (a recursive one through `$defs` at the root, since
 * inlining it would never end), OpenAPI 3.0's dialect rewritten (`nullable`, boolean
 * `exclusiveMinimum`, `example`), OpenAPI-only keywords (`discriminator`, `xml`, `externalDocs`)
 * dropped. A reference that leaves the document, does not resolve or lands on a part the document
 * validator found malformed throws `SchemaImportError`: the operation using it is skipped.
 */

export class SchemaImportError extends Error {
  override readonly name = 'SchemaImportError'
}

export type OpenApiVersion = '3.0' | '3.1'

export interface DocumentContext {
  readonly doc: Record<string, unknown>
  readonly version: OpenApiVersion
  /** Pointers (`#/components/schemas/X`) of parts the document validator rejected, with why. */
  readonly malformed: ReadonlyMap<string, string>
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function decodeSegment(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~')
}

/** The value a local reference (`#/components/...`) points at. */
function lookup(context: DocumentContext, ref: string): unknown {
  if (!ref.startsWith('#/')) {
    throw new SchemaImportError(
      `$ref ${JSON.stringify(ref)} leaves the document (only local references are read)`,
    )
  }
  for (const [pointer, why] of context.malformed) {
    // The reference lands on, inside or around a malformed part.
    if (ref === pointer || ref.startsWith(pointer + '/') || pointer.startsWith(ref + '/')) {
      throw new SchemaImportError(`$ref ${ref} is malformed: ${why}`)
    }
  }
  let node: unknown = context.doc
  for (const segment of ref.slice(2).split('/')) {
    let key: string
    try {
      key = decodeURIComponent(decodeSegment(segment))
    } catch {
      throw new SchemaImportError(`$ref ${ref} is not a valid JSON pointer`)
    }
    if (!isRecord(node) && !Array.isArray(node)) throw new SchemaImportError(`$ref ${ref} does not resolve`)
    node = (node as Record<string, unknown>)[key]
    if (node === undefined) throw new SchemaImportError(`$ref ${ref} does not resolve`)
  }
  return node
}

/** Follows the `$ref` chain of a non-schema object (parameter, request body, response, path item). */
export function deref(context: DocumentContext, node: unknown): unknown {
  const seen = new Set<string>()
  while (isRecord(node) && typeof node['$ref'] === 'string') {
    const ref = node['$ref']
    if (seen.has(ref)) throw new SchemaImportError(`$ref ${ref} refers to itself`)
    seen.add(ref)
    node = lookup(context, ref)
  }
  return node
}

const SINGLE = [
  'items',
  'additionalProperties',
  'not',
  'if',
  'then',
  'else',
  'contains',
  'propertyNames',
  'unevaluatedItems',
  'unevaluatedProperties',
  'additionalItems',
  'contentSchema',
] as const
const MAPS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'] as const
const LISTS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'] as const
/** Keywords of the OpenAPI dialect that mean nothing to a JSON Schema validator. */
const OPENAPI_ONLY = new Set(['discriminator', 'xml', 'externalDocs', 'nullable', 'example'])
/** Keywords next to a `$ref` that only annotate it (copied onto the inlined schema). */
const ANNOTATIONS = new Set([
  'title',
  'description',
  'summary',
  'default',
  'examples',
  'deprecated',
  'readOnly',
  'writeOnly',
])

/**
 * Imports the schemas of one tool root (its input, or its output): recursive references found in
 * any of them are collected once into the root's `$defs`.
 */
export class SchemaImporter {
  readonly #context: DocumentContext
  /** Recursive reference → its key in `$defs` and, once converted, its schema. */
  readonly #defs = new Map<string, { key: string; schema?: JsonSchema | boolean }>()

  constructor(context: DocumentContext) {
    this.#context = context
  }

  convert(schema: unknown): JsonSchema | boolean {
    return this.#convert(schema, [])
  }

  /** The root's `$defs` (undefined when no schema was recursive); converts what is still pending. */
  defs(): Record<string, JsonSchema | boolean> | undefined {
    for (let pending = this.#pending(); pending.length > 0; pending = this.#pending()) {
      for (const [ref, def] of pending) def.schema = this.#convert(lookup(this.#context, ref), [ref])
    }
    if (this.#defs.size === 0) return undefined
    return Object.fromEntries([...this.#defs.values()].map((d) => [d.key, d.schema!]))
  }

  /** `schema` with the collected `$defs` at its root (an object schema is expected there). */
  root(schema: JsonSchema): JsonSchema {
    const defs = this.defs()
    return defs === undefined ? schema : { ...schema, $defs: defs }
  }

  #pending(): [string, { key: string; schema?: JsonSchema | boolean }][] {
    return [...this.#defs].filter(([, d]) => d.schema === undefined)
  }

  #defKey(ref: string): string {
    const existing = this.#defs.get(ref)
    if (existing) return existing.key
    const base = decodeSegment(ref.split('/').pop() ?? 'def').replace(/[^A-Za-z0-9_.-]/g, '_') || 'def'
    const taken = new Set([...this.#defs.values()].map((d) => d.key))
    let key = base
    for (let n = 2; taken.has(key); n++) key = `${base}_${n}`
    this.#defs.set(ref, { key })
    return key
  }

  #convert(node: unknown, stack: readonly string[]): JsonSchema | boolean {
    if (typeof node === 'boolean' && this.#context.version === '3.1') return node
    if (!isRecord(node)) throw new SchemaImportError('a schema is not an object')
    const ref = node['$ref']
    if (typeof ref === 'string') {
      if (stack.includes(ref)) return { $ref: `#/$defs/${this.#defKey(ref)}` }
      const target = this.#convert(lookup(this.#context, ref), [...stack, ref])
      // OpenAPI 3.0 ignores whatever sits next to a $ref; 3.1 (JSON Schema 2020-12) applies it too.
      const siblings = Object.keys(node).filter((k) => k !== '$ref')
      if (this.#context.version === '3.0' || siblings.length === 0) return target
      const rest = this.#convert(Object.fromEntries(siblings.map((k) => [k, node[k]])), stack)
      if (typeof target !== 'boolean' && siblings.every((k) => ANNOTATIONS.has(k)))
        return { ...target, ...(rest as JsonSchema) }
      return { ...(rest as JsonSchema), allOf: [target] }
    }
    const out: JsonSchema = {}
    for (const [key, value] of Object.entries(node)) {
      if (OPENAPI_ONLY.has(key)) continue
      if ((SINGLE as readonly string[]).includes(key)) {
        // `items` as an array is the 2019 tuple form; `additionalProperties: true` is a boolean.
        if (Array.isArray(value)) out[key] = value.map((v) => this.#convert(v, stack))
        else out[key] = typeof value === 'boolean' ? value : this.#convert(value, stack)
      } else if ((MAPS as readonly string[]).includes(key) && isRecord(value)) {
        out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.#convert(v, stack)]))
      } else if ((LISTS as readonly string[]).includes(key) && Array.isArray(value)) {
        out[key] = value.map((v) => this.#convert(v, stack))
      } else {
        out[key] = structuredClone(value)
      }
    }
    if ('example' in node && !('examples' in node)) out['examples'] = [structuredClone(node['example'])]
    if (this.#context.version === '3.0') return fromOpenApi30(node, out)
    return out
  }
}

/** Rewrites the keywords OpenAPI 3.0 spells differently from JSON Schema 2020-12. */
function fromOpenApi30(original: Record<string, unknown>, out: JsonSchema): JsonSchema {
  for (const [bound, flag] of [
    ['minimum', 'exclusiveMinimum'],
    ['maximum', 'exclusiveMaximum'],
  ] as const) {
    if (typeof out[flag] !== 'boolean') continue
    if (out[flag] === true && typeof out[bound] === 'number') {
      out[flag] = out[bound]
      delete out[bound]
    } else {
      delete out[flag]
    }
  }
  if (original['nullable'] !== true) return out
  if (typeof out['type'] === 'string') {
    out['type'] = [out['type'], 'null']
    if (Array.isArray(out['enum']) && !out['enum'].includes(null)) out['enum'] = [...out['enum'], null]
    return out
  }
  return { anyOf: [out, { type: 'null' }] }
}

let metaValidator: Ajv2020 | undefined

/**
 * Says what is wrong with a converted schema as JSON Schema 2020-12 (undefined when nothing): the
 * meta-schema, and the regular expressions it only names.
 */
export function schemaProblem(schema: JsonSchema | boolean): string | undefined {
  metaValidator ??= new Ajv2020({ strict: false, validateFormats: false })
  if (!metaValidator.validateSchema(schema)) {
    return metaValidator.errorsText(metaValidator.errors, { dataVar: 'schema' })
  }
  return badPattern(schema)
}

function badPattern(node: unknown): string | undefined {
  if (Array.isArray(node)) {
    for (const item of node) {
      const found = badPattern(item)
      if (found) return found
    }
    return undefined
  }
  if (!isRecord(node)) return undefined
  const patterns = [
    ...(typeof node['pattern'] === 'string' ? [node['pattern']] : []),
    ...(isRecord(node['patternProperties']) ? Object.keys(node['patternProperties']) : []),
  ]
  for (const pattern of patterns) {
    try {
      new RegExp(pattern, 'u')
    } catch {
      return `pattern ${JSON.stringify(pattern)} is not a valid regular expression`
    }
  }
  for (const [key, value] of Object.entries(node)) {
    // Data keywords hold values, not schemas: a `pattern` property inside them is just data.
    if (key === 'enum' || key === 'const' || key === 'default' || key === 'examples') continue
    const found = badPattern(value)
    if (found) return found
  }
  return undefined
}
