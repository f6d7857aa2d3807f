import {
  ERRORS,
  type FieldError,
  isProblemError,
  PROBLEM_CONTENT_TYPE,
  type Problem,
  ProblemError,
} from '@arw/protocol'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { enterTrace } from './trace.ts'

/** Sends a problem with the headers its code implies (Retry-After, WWW-Authenticate). */
export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  reply.code(problem.status).type(PROBLEM_CONTENT_TYPE)
  if (problem.retry_after !== undefined) reply.header('retry-after', String(problem.retry_after))
  if (problem.code === 'unauthorized') reply.header('www-authenticate', 'Bearer realm="arw"')
  return reply.send(problem)
}

function instanceOf(request: FastifyRequest): string {
  const url = request.url
  const q = url.indexOf('?')
  return q === -1 ? url : url.slice(0, q)
}

/** Maps whatever was thrown while serving a request to a catalog problem. */
export function problemFor(error: unknown, request: FastifyRequest): Problem {
  const trace = request.trace?.traceId ?? ''
  const instance = instanceOf(request)
  if (isProblemError(error)) return error.toProblem(instance, trace)
  const fe = error as Partial<FastifyError> & { validation?: unknown[]; validationContext?: string }
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ProblemError(ERRORS.unsupported_media_type, {
        contentType: JSON.stringify(request.headers['content-type'] ?? ''),
      }).toProblem(instance, trace)
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ProblemError(ERRORS.payload_too_large, {
        limit: request.routeOptions?.bodyLimit ?? '?',
      }).toProblem(instance, trace)
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ProblemError(ERRORS.malformed_json, { reason: 'the body is empty' }).toProblem(
        instance,
        trace,
      )
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ProblemError(ERRORS.bad_request, {
        reason: 'Content-Length does not match the body',
      }).toProblem(instance, trace)
    case 'FST_ERR_VALIDATION': {
      const errors: FieldError[] = (fe.validation ?? []).map((v) => {
        const e = v as { instancePath?: string; message?: string; keyword?: string }
        return {
          pointer: e.instancePath ?? '',
          message: e.message ?? 'is invalid',
          keyword: e.keyword ?? 'schema',
        }
      })
      return new ProblemError(
        ERRORS.validation_failed,
        { count: errors.length, schema: fe.validationContext ?? 'request' },
        { errors },
      ).toProblem(instance, trace)
    }
  }
  // JSON.parse failures from the body parser come as SyntaxError with status 400.
  if (error instanceof SyntaxError || fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new ProblemError(ERRORS.malformed_json, { reason: conciseJsonReason(error) }).toProblem(
      instance,
      trace,
    )
  }
  const status = fe.statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) {
    if (status === 413) {
      return new ProblemError(ERRORS.payload_too_large, {
        limit: request.routeOptions?.bodyLimit ?? '?',
      }).toProblem(instance, trace)
    }
    if (status === 415) {
      return new ProblemError(ERRORS.unsupported_media_type, {
        contentType: JSON.stringify(request.headers['content-type'] ?? ''),
      }).toProblem(instance, trace)
    }
    return new ProblemError(ERRORS.bad_request, { reason: 'the request could not be read' }).toProblem(
      instance,
      trace,
    )
  }
  request.log.error({ err: error, trace_id: trace }, 'unhandled error')
  return new ProblemError(ERRORS.internal_error, { traceId: trace }).toProblem(instance, trace)
}

function conciseJsonReason(error: unknown): string {
  const message = error instanceof Error ? error.message : 'unexpected input'
  // Never echo the body back; keep the parser's position hint only.
  return message.replace(/"[^"]{40,}"/g, '"…"').slice(0, 200)
}

/** Installs the error and not-found handlers so every failure answers a catalog problem. */
export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    if (reply.sent || reply.raw.headersSent) return
    // A request can fail before its route's entry hook ran (an unparsable URL, say).
    enterTrace(request, reply)
    sendProblem(reply, problemFor(error, request))
  })
  app.setNotFoundHandler((request, reply) => {
    enterTrace(request, reply)
    const problem = new ProblemError(ERRORS.route_not_found, {
      method: request.method,
      path: instanceOf(request),
    }).toProblem(instanceOf(request), request.trace?.traceId ?? '')
    sendProblem(reply, problem)
  })
}
