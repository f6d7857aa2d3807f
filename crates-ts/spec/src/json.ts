/** A value JSON can carry, as emitted documents hold it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject
export type JsonObject = { [key: string]: JsonValue }

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/**
 * A plain-JSON deep copy of a declared schema (or any declared value), for embedding in a document.
 *
 * TypeBox 1.x schemas already are JSON Schema 2020-12, but they carry non-enumerable bookkeeping
 * (`~kind`, `~optional`, ...) and may share sub-objects between declarations. Copying own
 * enumerable keys only is exactly what `JSON.stringify` keeps, so the copy serializes the same
 * way to JSON and YAML (no YAML anchors for shared objects, no internal keys), and no emitter can
 * mutate a frozen declaration by accident.
 *
 * Anything JSON would silently drop or distort (functions, symbols, bigint, non-finite numbers,
 * `undefined` in arrays, class instances such as Date, cycles) is a mistake in the declaration: it
 * is reported in `problems` under `where` (a JSON pointer after the label) instead of being
 * emitted as something else than what was declared. Object members whose value is `undefined` are
 * dropped, as JSON.stringify does, since `{ default: undefined }` means "not set".
 */
export function toJson(value: unknown, where: string, problems: string[]): JsonValue {
  const stack = new Set<object>()
  const visit = (node: unknown, pointer: string): JsonValue => {
    const at = `${where}${pointer}`
    switch (typeof node) {
      case 'string':
      case 'boolean':
        return node
      case 'number':
        if (!Number.isFinite(node)) problems.push(`${at}: ${node} is not a JSON number`)
        return Number.isFinite(node) ? node : null
      case 'object': {
        if (node === null) return null
        if (stack.has(node)) {
          problems.push(`${at}: the value refers to itself (a cycle cannot be written as JSON)`)
          return null
        }
        if (Array.isArray(node)) {
          stack.add(node)
          const out = node.map((item, index) => {
            if (item === undefined) {
              problems.push(`${at}/${index}: undefined is not a JSON value`)
              return null
            }
            return visit(item, `${pointer}/${index}`)
          })
          stack.delete(node)
          return out
        }
        if (!isPlainObject(node)) {
          problems.push(`${at}: a ${node.constructor?.name ?? 'non-plain'} object is not a JSON value`)
          return null
        }
        stack.add(node)
        const out: JsonObject = {}
        for (const [key, child] of Object.entries(node)) {
          if (child === undefined) continue
          out[key] = visit(child, `${pointer}/${escapePointer(key)}`)
        }
        stack.delete(node)
        return out
      }
      default:
        problems.push(`${at}: a ${typeof node} is not a JSON value`)
        return null
    }
  }
  return visit(value, '')
}

/** RFC 6901 escaping of one reference token. */
export function escapePointer(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1')
}

/** `toJson` for a value that must come out as an object (a schema); reports it otherwise. */
export function toJsonObject(value: unknown, where: string, problems: string[]): JsonObject {
  const json = toJson(value, where, problems)
  if (json !== null && typeof json === 'object' && !Array.isArray(json)) return json
  problems.push(`${where}: expected a JSON Schema object`)
  return {}
}

/** Byte-stable JSON text of a document: 2-space indent and a trailing newline. */
export function jsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`
}

/** `schema` with JSON Schema's `examples` annotation set to `values` (unchanged when there are none). */
export function withExamples(schema: JsonObject, values: readonly unknown[]): JsonObject {
  if (values.length === 0) return schema
  return { ...schema, examples: structuredClone(values) as JsonValue[] }
}
