import { maxHeaderSize, STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import {
  ERRORS,
  type FieldError,
  formatTraceparent,
  isProblemError,
  PROBLEM_CONTENT_TYPE,
  type Problem,
  ProblemError,
  traceFrom,
} from '@arw/protocol'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { enterTrace } from './trace.ts'

/** The router's limit on one path segment (a tool id, a file name), in characters. */
export const MAX_PARAM_LENGTH = 300
/** No problem echoes more of the request path than this. */
const MAX_ECHO = 200

function bounded(path: string): string {
  return path.length > MAX_ECHO ? `${path.slice(0, MAX_ECHO)}…` : path
}

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
  return bounded(q === -1 ? url : url.slice(0, q))
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

/**
 * Fastify's `frameworkErrors`: a URL the router refuses before any route (a path segment over
 * MAX_PARAM_LENGTH, a malformed escape) answers a catalog problem like any other failure.
 */
export function answerFrameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  enterTrace(request, reply)
  const problem =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? new ProblemError(ERRORS.uri_too_long, { limit: MAX_PARAM_LENGTH }).toProblem(
          instanceOf(request),
          request.trace.traceId,
        )
      : problemFor(error, request)
  sendProblem(reply, problem)
}

/**
 * Fastify's `clientErrorHandler`: a request Node's parser cannot read (headers over its limit, a
 * malformed request line) never reaches Fastify. It answers a problem, and `Connection: close`
 * since the connection is closed after it (where that request ends cannot be known).
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  if (!socket.writable) {
    socket.destroy(error)
    return
  }
  const trace = traceFrom(undefined)
  const problem =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? new ProblemError(ERRORS.headers_too_large, { limit: maxHeaderSize }).toProblem('', trace.traceId)
      : new ProblemError(ERRORS.bad_request, {
          reason:
            error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
              ? 'the request took too long to arrive'
              : 'the request could not be parsed',
        }).toProblem('', trace.traceId)
  const body = JSON.stringify(problem)
  socket.end(
    `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\n` +
      `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `traceparent: ${formatTraceparent(trace)}\r\nConnection: close\r\n\r\n${body}`,
  )
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
      method: bounded(request.method),
      path: instanceOf(request),
    }).toProblem(instanceOf(request), request.trace?.traceId ?? '')
    sendProblem(reply, problem)
  })
}
