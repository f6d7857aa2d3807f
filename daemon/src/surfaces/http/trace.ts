import { formatTraceparent, type TraceContext, traceFrom } from '@arw/protocol'
import type { FastifyReply, FastifyRequest } from 'fastify'

/**
 * The W3C trace context of a request: continued from its `traceparent` header or started here, and
 * returned in the response's `traceparent`. Set once per request (the route's entry hook, or the
 * not-found and error handlers for requests that never reached a route).
 */
export function enterTrace(request: FastifyRequest, reply: FastifyReply): TraceContext {
  if (request.trace) return request.trace
  const header = request.headers.traceparent
  const trace = traceFrom(typeof header === 'string' ? header : undefined)
  request.trace = trace
  reply.header('traceparent', formatTraceparent(trace))
  return trace
}
