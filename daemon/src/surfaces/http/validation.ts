import { ERRORS, ProblemError } from '@arw/protocol'
import { compileValidator } from '@arw/registry'
import type { FastifyInstance } from 'fastify'
import type { TSchema } from 'typebox'

type JsonSchema = { type?: string | string[]; properties?: Record<string, JsonSchema>; items?: JsonSchema }

// Only plain decimal forms are numbers: Number() would also take ' 5', '0x10' and '1e2', so
// `?after=0x10` would quietly mean 16 instead of being refused.
const INTEGER = /^-?\d{1,16}$/
const NUMBER = /^-?\d{1,16}(\.\d{1,16})?([eE][+-]?\d{1,3})?$/

/** Query values arrive as strings; convert the ones the schema types as numbers or booleans. */
function coerceQuery(schema: JsonSchema, query: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...query }
  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    const value = out[name]
    if (typeof value !== 'string') continue
    const type = Array.isArray(prop.type) ? prop.type[0] : prop.type
    if ((type === 'integer' ? INTEGER : type === 'number' ? NUMBER : undefined)?.test(value)) {
      out[name] = Number(value)
    } else if (type === 'boolean' && (value === 'true' || value === 'false')) {
      out[name] = value === 'true'
    }
  }
  return out
}

/**
 * Route schemas are checked by the same compiled TypeBox validators as tool inputs, so a bad query
 * or body answers the same validation_failed problem shape (pointers per failing field).
 */
export function installValidation(app: FastifyInstance): void {
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const validator = compileValidator(schema as TSchema)
    return (data: unknown) => {
      const value =
        httpPart === 'querystring'
          ? coerceQuery(schema as JsonSchema, (data ?? {}) as Record<string, unknown>)
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
