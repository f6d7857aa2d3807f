import { ERRORS, ProblemError } from '@arw/protocol'
import { type DeclaredBinding, type Registry, routeKey, type ServedBinding, takesQuery } from '@arw/registry'
import { bindingOperationId } from '@arw/spec'
import type { FastifyRequest } from 'fastify'
import Type from 'typebox'
import { defineRoute, type RouteDef } from '../../kernel/route.ts'
import type { Services } from '../../services.ts'
import { invokeOverHttp } from './invoke.ts'
import { coerceQuery } from './validation.ts'

/** The route a tool's REST binding is served at clashes with another route of the daemon. */
export class BindingClashError extends Error {
  constructor(clashes: readonly string[]) {
    super(`REST bindings clash with routes of the daemon:\n  - ${clashes.join('\n  - ')}`)
    this.name = 'BindingClashError'
  }
}

/** `/tools/:call` and `/tools/{tool_id}` are the same route to the router. */
function routerKey(route: RouteDef<any>): string {
  const path = (route.url ?? route.doc.path).replace(/:(\w+)/g, '{$1}')
  return routeKey(route.doc.method, path)
}

function pathOf(request: FastifyRequest): string {
  const q = request.url.indexOf('?')
  return q === -1 ? request.url : request.url.slice(0, q)
}

/**
 * Where an input field was in a bound request, as the daemon's other routes point at fields: path
 * parameters under `/params`, the query under `/query`, the body from its root. `/input/limit` of a
 * GET is `/query/limit`; `/input/name` of a PATCH is `/name`.
 */
function locator(binding: DeclaredBinding): (pointer: string) => string {
  const query = takesQuery(binding.method)
  return (pointer) => {
    if (pointer !== '/input' && !pointer.startsWith('/input/')) return pointer
    const rest = pointer.slice('/input'.length)
    const field = rest.split('/')[1]
    if (field !== undefined && binding.params.includes(field)) return `/params${rest}`
    return query ? `/query${rest}` : rest
  }
}

/**
 * The tool's input from a bound request: path parameters plus the query (GET, DELETE) or the JSON
 * body (POST, PUT, PATCH), strings coerced by the input schema's types as in any query. A value
 * given twice (a body or query property and the path parameter of the same name) must agree.
 */
function inputOf(
  served: ServedBinding,
  routeParams: readonly string[],
  request: FastifyRequest,
): Record<string, unknown> {
  const { binding, tool } = served
  const schema = tool.input as Parameters<typeof coerceQuery>[0]
  // By position: the version serving the route now may name its parameters differently from the
  // one the route was registered for.
  const raw = request.params as Record<string, string>
  const params = coerceQuery(
    schema,
    Object.fromEntries(binding.params.map((name, i) => [name, raw[routeParams[i]!]])),
  )
  let rest: Record<string, unknown>
  if (takesQuery(binding.method))
    rest = coerceQuery(schema, { ...(request.query as Record<string, unknown>) })
  else {
    const body = request.body ?? {}
    if (typeof body !== 'object' || Array.isArray(body)) {
      throw new ProblemError(
        ERRORS.validation_failed,
        { count: 1, schema: `${tool.id} input` },
        { errors: [{ pointer: '', message: 'the body must be a JSON object', keyword: 'type' }] },
      )
    }
    rest = body as Record<string, unknown>
  }
  const errors = binding.params
    .filter((name) => name in rest && rest[name] !== params[name])
    .map((name) => ({
      pointer: takesQuery(binding.method) ? `/query/${name}` : `/${name}`,
      message: `contradicts the path parameter {${name}} (${JSON.stringify(params[name])})`,
      keyword: 'const',
    }))
  if (errors.length > 0) {
    throw new ProblemError(
      ERRORS.validation_failed,
      { count: errors.length, schema: `${tool.id} input` },
      { errors },
    )
  }
  return { ...rest, ...params }
}

const INPUT_QUERY = Type.Object({}, { additionalProperties: true })

function bindingRoute(registry: Registry, served: ServedBinding): RouteDef<Services> {
  const { binding } = served
  return defineRoute<Services>({
    // Registration reads method, path and auth from here; OpenAPI documents bindings from the
    // registry instead (the tool's schemas), so this doc is not in the route docs.
    doc: {
      method: binding.method,
      path: binding.path,
      operationId: bindingOperationId(served),
      summary: served.tool.title,
      tags: ['tools'],
      auth: 'admin',
      // The query of a GET or DELETE binding is the tool's input, checked by the input schema in
      // the pipeline; any other binding takes no query (refused like on every route).
      ...(takesQuery(binding.method) ? { query: INPUT_QUERY } : {}),
      responses: { [binding.status]: { description: served.tool.title } },
    },
    handler: (services) => async (request, reply) => {
      // Looked up per request: the version serving a route changes when versions come and go.
      const current = registry.binding(binding.method, binding.path)
      if (current === undefined) {
        throw new ProblemError(ERRORS.route_not_found, { method: request.method, path: pathOf(request) })
      }
      const input = inputOf(current, binding.params, request)
      const { status } = current.binding
      const call = { ref: current.tool.id, input, locate: locator(current.binding) }
      return invokeOverHttp(services, request, reply, call, (outcome) => {
        reply.code(status)
        return status === 204 ? reply.send() : outcome.result.output
      })
    },
  })
}

/**
 * A route for every REST binding in the registry, checked against the daemon's own routes: a
 * binding may not take a route the daemon already serves. Bindings of tools registered after the
 * daemon started are not served (routes are fixed once the server is ready).
 */
export function bindingRoutes(registry: Registry, routes: readonly RouteDef<any>[]): RouteDef<Services>[] {
  const taken = new Map(routes.map((route) => [routerKey(route), route.doc.operationId]))
  const clashes: string[] = []
  for (const { binding, tool } of registry.bindings()) {
    const owner = taken.get(routeKey(binding.method, binding.path))
    if (owner !== undefined) {
      clashes.push(`${tool.id}: http ${binding.method} ${binding.path} is the route of ${owner}`)
    }
  }
  if (clashes.length > 0) throw new BindingClashError(clashes)
  return registry.bindings().map((served) => bindingRoute(registry, served))
}
