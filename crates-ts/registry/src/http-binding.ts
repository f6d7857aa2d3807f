import type { TSchema } from 'typebox'

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

/**
 * A REST route that serves a tool: the HTTP surface maps path parameters, the query (GET, DELETE)
 * or the JSON body (POST, PUT, PATCH) onto the tool's input and answers its output.
 */
export interface HttpBinding {
  method: HttpMethod
  /** `/connections/{id}/toggle`: each `{name}` is a whole segment naming an input property. */
  path: string
  /** Success status. 204 answers no body. Default 200. */
  status?: 200 | 201 | 204
}

/** A binding as registered: status filled in, path parameters listed. */
export interface DeclaredBinding {
  readonly method: HttpMethod
  readonly path: string
  readonly status: 200 | 201 | 204
  /** Names of the path parameters, in path order. */
  readonly params: readonly string[]
}

export const HTTP_METHODS: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']
const STATUSES: readonly number[] = [200, 201, 204]
/** Methods whose input comes from the query string; the others take a JSON body. */
const QUERY_METHODS: ReadonlySet<HttpMethod> = new Set(['GET', 'DELETE'])

// Literal segments are RFC 3986 unreserved characters only: no `:` (the router reads it as a
// parameter) and nothing that would need percent-encoding to be matched.
const LITERAL = /^[A-Za-z0-9._~-]+$/
const PARAM = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/

export function takesQuery(method: HttpMethod): boolean {
  return QUERY_METHODS.has(method)
}

/**
 * `GET /a/{}/b`: what makes two bindings the same route. Templated paths that differ only in
 * parameter names match the same requests, so they are the same route (as in OpenAPI).
 */
export function routeKey(method: string, path: string): string {
  return `${method} ${path.replace(/\{[^{}/]*\}/g, '{}')}`
}

type JsonSchema = {
  type?: unknown
  enum?: unknown
  const?: unknown
  anyOf?: unknown
  oneOf?: unknown
  items?: unknown
  properties?: Record<string, JsonSchema>
}

const SCALAR_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'null'])

function isScalarValue(value: unknown): boolean {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value)
}

/** A value a single query parameter or path segment can carry: a string, number, boolean or a choice of them. */
export function isScalarSchema(schema: unknown): boolean {
  if (schema === null || typeof schema !== 'object') return false
  const s = schema as JsonSchema
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? s.type : [s.type]
    return types.length > 0 && types.every((t) => typeof t === 'string' && SCALAR_TYPES.has(t))
  }
  if (Array.isArray(s.enum)) return s.enum.every(isScalarValue)
  if ('const' in s) return isScalarValue(s.const)
  const branches = s.anyOf ?? s.oneOf
  return Array.isArray(branches) && branches.length > 0 && branches.every(isScalarSchema)
}

/** What a query string can express: a scalar, or an array of scalars (a repeated parameter). */
export function isQuerySchema(schema: unknown): boolean {
  if (isScalarSchema(schema)) return true
  const s = schema as JsonSchema | null
  return s !== null && typeof s === 'object' && s.type === 'array' && isScalarSchema(s.items)
}

/**
 * Checks one tool's bindings against its input schema; answers the declared bindings and the
 * problems found (each prefixed by `label`). A binding with a problem is left out.
 */
export function declareBindings(
  label: string,
  http: HttpBinding | readonly HttpBinding[] | undefined,
  input: TSchema,
  problems: string[],
): DeclaredBinding[] {
  if (http === undefined) return []
  const list: readonly HttpBinding[] = Array.isArray(http) ? http : [http as HttpBinding]
  const properties = ((input as JsonSchema).properties ?? {}) as Record<string, JsonSchema>
  const declared: DeclaredBinding[] = []
  const keys = new Set<string>()
  for (const binding of list) {
    const where = `${label}: http ${binding?.method} ${binding?.path}`
    const before = problems.length
    if (!HTTP_METHODS.includes(binding?.method)) {
      problems.push(`${where}: method must be one of ${HTTP_METHODS.join(', ')}`)
    }
    if (binding?.status !== undefined && !STATUSES.includes(binding.status)) {
      problems.push(`${where}: status must be 200, 201 or 204`)
    }
    const params: string[] = []
    const path = typeof binding?.path === 'string' ? binding.path : ''
    const segments = path.split('/').slice(1)
    if (!path.startsWith('/') || segments.some((s) => s === '')) {
      problems.push(`${where}: path must start with / and have no empty segment (nor a trailing /)`)
    }
    for (const segment of path.startsWith('/') ? segments : []) {
      if (segment === '') continue
      const param = PARAM.exec(segment)?.[1]
      if (param === undefined) {
        if (!LITERAL.test(segment)) {
          problems.push(
            `${where}: segment "${segment}" must be a literal of letters, digits and ._~- or a whole {parameter}`,
          )
        }
        continue
      }
      if (params.includes(param)) problems.push(`${where}: path parameter {${param}} appears twice`)
      params.push(param)
      const property = properties[param]
      if (property === undefined) {
        problems.push(`${where}: path parameter {${param}} is not a property of the input schema`)
      } else if (!isScalarSchema(property)) {
        problems.push(`${where}: path parameter {${param}} must be a string, number or boolean in the input`)
      }
    }
    if (takesQuery(binding?.method)) {
      for (const [name, property] of Object.entries(properties)) {
        if (params.includes(name) || isQuerySchema(property)) continue
        problems.push(
          `${where}: input property "${name}" cannot be sent in a query string (a ${binding.method} takes scalars or arrays of scalars)`,
        )
      }
    }
    if (problems.length > before) continue
    const key = routeKey(binding.method, path)
    if (keys.has(key)) {
      problems.push(`${where}: declared twice by this tool`)
      continue
    }
    keys.add(key)
    declared.push(
      Object.freeze({
        method: binding.method,
        path,
        status: binding.status ?? 200,
        params: Object.freeze(params),
      }),
    )
  }
  return declared
}
