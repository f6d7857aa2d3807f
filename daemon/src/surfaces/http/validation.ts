import { ERRORS, ProblemError } from '@arw/protocol'
import { compileValidator } from '@arw/registry'
import type { FastifyInstance } from 'fastify'
import type { TSchema } from 'typebox'

type JsonSchema = {
  type?: string | string[]
  properties?: Record<string, JsonSchema>
  items?: JsonSchema
  anyOf?: JsonSchema[]
  const?: unknown
}

// Only plain decimal forms are numbers: Number() would also take ' 5', '0x10' and '1e2', so
// `?after=0x10` would quietly mean 16 instead of being refused.
const INTEGER = /^-?\d{1,16}$/
const NUMBER = /^-?\d{1,16}(\.\d{1,16})?([eE][+-]?\d{1,3})?$/

/** The types a value of this schema may have, in the schema's order (a union's branches in turn). */
function typesOf(schema: JsonSchema): string[] {
  if (schema.type !== undefined) return Array.isArray(schema.type) ? schema.type : [schema.type]
  if ('const' in schema) return [typeof schema.const]
  return (schema.anyOf ?? []).flatMap(typesOf)
}

/** The value a string stands for under the first of the schema's types it is written as; a string type keeps it. */
function coerceScalar(schema: JsonSchema, value: string): unknown {
  for (const type of typesOf(schema)) {
    if (type === 'string') return value
    if ((type === 'integer' ? INTEGER : type === 'number' ? NUMBER : undefined)?.test(value))
      return Number(value)
    if (type === 'boolean' && (value === 'true' || value === 'false')) return value === 'true'
  }
  return value
}

/**
 * Query values arrive as strings; convert the ones the schema types as numbers or booleans. A
 * property typed as an array takes a repeated parameter (`?tag=a&tag=b`) or a single one.
 */
export function coerceQuery(schema: JsonSchema, query: Record<string, unknown>): Record<string, unknown> {
  // Most requests carry no query at all: nothing to convert, nothing to copy.
  if (isEmpty(query)) return query
  const out: Record<string, unknown> = { ...query }
  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    const value = out[name]
    if (prop.type === 'array' && prop.items) {
      const list = typeof value === 'string' ? [value] : value
      if (!Array.isArray(list)) continue
      out[name] = list.map((item) => (typeof item === 'string' ? coerceScalar(prop.items!, item) : item))
    } else if (typeof value === 'string') out[name] = coerceScalar(prop, value)
  }
  return out
}

function isEmpty(object: Record<string, unknown>): boolean {
  for (const _ in object) return false
  return true
}

/** An object body whose schema requires nothing may be left out (as the OpenAPI emitter documents). */
function optionalBody(schema: JsonSchema & { required?: unknown[] }): boolean {
  return schema.type === 'object' && (schema.required ?? []).length === 0
}

/**
 * Route schemas are checked by the same compiled TypeBox validators as tool inputs, so a bad query
 * or body answers the same validation_failed problem shape (pointers per failing field). A body
 * left out, or sent as an empty `application/json` body (what generated clients send for an
 * optional body), is no body: `{}` where the schema requires nothing, else validation_failed (a
 * JSON `null` body reads the same).
 */
export function installValidation(app: FastifyInstance): void {
  const json = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') done(null, null)
    else json(request, body as string, done)
  })
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const validator = compileValidator(schema as TSchema)
    const leftOut = httpPart === 'body' && optionalBody(schema as JsonSchema) ? {} : undefined
    return (data: unknown) => {
      const value =
        httpPart === 'querystring'
          ? coerceQuery(schema as JsonSchema, (data ?? {}) as Record<string, unknown>)
          : // Fastify reads a request without a body as null.
            data === undefined || data === null
            ? leftOut
            : data
      if (validator.check(value)) return { value }
      const part = httpPart === 'querystring' ? 'query' : (httpPart ?? 'request')
      const errors = validator.errors(value).map((e) => ({
        ...e,
        pointer: part === 'body' ? e.pointer : `/${part}${e.pointer}`,
      }))
      return {
        error: new ProblemError(ERRORS.validation_failed, { count: errors.length, schema: part }, { errors }),
      }
    }
  })
}
