import type { FastifyInstance, onRequestHookHandler, onResponseHookHandler } from 'fastify'
import Type from 'typebox'
import { authRequestOf, checkRequestOrigin } from '../../auth/request-guard.ts'
import type { RouteDef } from '../../kernel/route.ts'
import type { Services } from '../../services.ts'
import { problemFor, sendProblem } from './problems.ts'
import { enterTrace } from './trace.ts'

/** A route with the context its handler is built from. */
export interface BoundRoute {
  route: RouteDef<any>
  ctx: unknown
}

function fastifyUrl(path: string): string {
  return path.replace(/\{(\w+)\}/g, ':$1')
}

const NO_QUERY = Type.Object({}, { additionalProperties: false })

/** Registers routes from their declarations: URL, validation schemas and auth come from `doc`. */
export function registerRoutes(
  app: FastifyInstance,
  services: Services,
  routes: readonly BoundRoute[],
): void {
  for (const { route, ctx } of routes) {
    const { doc } = route
    const schema: Record<string, unknown> = {}
    if (doc.params && !route.url) schema['params'] = doc.params
    // No undeclared input: a route that declares no query parameters refuses any (as documented).
    schema['querystring'] = doc.query ?? NO_QUERY
    if (doc.body) schema['body'] = doc.body
    const url = route.url ?? fastifyUrl(doc.path)
    app.route({
      method: doc.method,
      url,
      schema,
      config: { auth: doc.auth },
      // One entry hook per route: each hook Fastify runs costs about a microsecond per request.
      onRequest: doc.auth === 'admin' ? enterAdmin(services) : enterOpen(services),
      onResponse: recordStats(services, `${doc.method} ${url}`),
      handler: route.handler(ctx),
    })
  }
}

/** Entry of a route open to anyone: the trace context and the DNS-rebinding guard. */
function enterOpen(services: Services): onRequestHookHandler {
  return (request, reply, done) => {
    enterTrace(request, reply)
    try {
      checkRequestOrigin(request, services.guard)
    } catch (error) {
      sendProblem(reply, problemFor(error, request))
      return
    }
    done()
  }
}

/**
 * Entry of an admin route: the trace context, the DNS-rebinding guard, then authentication
 * (401/403/429 before the route runs), or request.principal set.
 */
function enterAdmin(services: Services): onRequestHookHandler {
  const refuse = (
    request: Parameters<onRequestHookHandler>[0],
    reply: Parameters<onRequestHookHandler>[1],
    error: unknown,
  ) => {
    if (error instanceof Error && 'code' in error && error.code === 'unauthorized') {
      request.log.warn({ ip: request.ip, url: request.url.split('?')[0] }, 'authentication failed')
    }
    // Answered here: the route never runs, and done() is not called.
    sendProblem(reply, problemFor(error, request))
  }
  return (request, reply, done) => {
    enterTrace(request, reply)
    try {
      checkRequestOrigin(request, services.guard)
      const principal = services.auth.authenticate(authRequestOf(request))
      if (principal instanceof Promise) {
        principal.then(
          (p) => {
            request.principal = p
            done()
          },
          (error: unknown) => refuse(request, reply, error),
        )
        return
      }
      request.principal = principal
    } catch (error) {
      refuse(request, reply, error)
      return
    }
    done()
  }
}

/** Per-route hits, errors and latency for /admin/introspect/stats. */
function recordStats(services: Services, key: string): onResponseHookHandler {
  return (_request, reply, done) => {
    services.metrics.routes.record(key, reply.elapsedTime, reply.statusCode >= 400)
    done()
  }
}
