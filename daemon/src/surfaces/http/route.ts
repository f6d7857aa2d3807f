import type { HttpRouteDoc } from '@arw/spec'
import type {
  FastifyInstance,
  onRequestHookHandler,
  onResponseHookHandler,
  RouteHandlerMethod,
} from 'fastify'
import type { Services } from '../../services.ts'
import { problemFor, sendProblem } from './problems.ts'
import { enterTrace } from './trace.ts'

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
    const url = route.url ?? fastifyUrl(doc.path)
    app.route({
      method: doc.method,
      url,
      schema,
      config: { auth: doc.auth },
      // One entry hook per route: each hook Fastify runs costs about a microsecond per request.
      onRequest: doc.auth === 'admin' ? enterAdmin(services) : enterOpen,
      onResponse: recordStats(services, `${doc.method} ${url}`),
      handler: route.handler(services),
    })
  }
}

/** Entry of a route open to anyone: the trace context only. */
const enterOpen: onRequestHookHandler = (request, reply, done) => {
  enterTrace(request, reply)
  done()
}

/**
 * Entry of an admin route: the trace context, then 401/403/429 before the route runs, or
 * request.principal set.
 */
function enterAdmin(services: Services): onRequestHookHandler {
  return (request, reply, done) => {
    enterTrace(request, reply)
    try {
      request.principal = services.auth.authenticate(request.headers, request.socket.remoteAddress)
    } catch (error) {
      if (error instanceof Error && 'code' in error && error.code === 'unauthorized') {
        request.log.warn({ ip: request.ip, url: request.url.split('?')[0] }, 'admin authentication failed')
      }
      // Answered here: the route never runs, and done() is not called.
      sendProblem(reply, problemFor(error, request))
      return
    }
    done()
  }
}

/** Per-route hits, errors and latency for /admin/introspect/stats. */
function recordStats(services: Services, key: string): onResponseHookHandler {
  return (_request, reply, done) => {
    services.stats.routes.record(key, reply.elapsedTime, reply.statusCode >= 400)
    done()
  }
}
