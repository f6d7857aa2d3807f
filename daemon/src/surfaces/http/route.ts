import type { HttpRouteDoc } from '@arw/spec'
import type { FastifyInstance, RouteHandlerMethod } from 'fastify'
import type { Services } from '../../services.ts'

/** A route: its declaration (documented in OpenAPI) and a handler built from the services. */
export interface RouteDef {
  doc: HttpRouteDoc
  /** Fastify URL when it differs from the documented path (e.g. `/tools/:call` for `{tool_id}:invoke`). */
  url?: string
  handler(services: Services): RouteHandlerMethod
}

export function defineRoute(def: RouteDef): RouteDef {
  return def
}

function fastifyUrl(path: string): string {
  return path.replace(/\{(\w+)\}/g, ':$1')
}

/** Registers routes from their declarations: URL, validation schemas and auth come from `doc`. */
export function registerRoutes(app: FastifyInstance, services: Services, routes: readonly RouteDef[]): void {
  for (const route of routes) {
    const { doc } = route
    const schema: Record<string, unknown> = {}
    if (doc.params && !route.url) schema['params'] = doc.params
    if (doc.query) schema['querystring'] = doc.query
    if (doc.body) schema['body'] = doc.body
    app.route({
      method: doc.method,
      url: route.url ?? fastifyUrl(doc.path),
      schema,
      config: { auth: doc.auth },
      handler: route.handler(services),
    })
  }
}
