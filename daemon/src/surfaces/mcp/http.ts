import type { ServerResponse } from 'node:http'
import type { Principal } from '@arw/protocol'
import type { ResponseDoc } from '@arw/spec'
import type { FastifyReply, FastifyRequest } from 'fastify'
import Type from 'typebox'
import { defineRoute, type RouteDef } from '../../kernel/route.ts'
import { STREAM_HEADERS } from '../../kernel/stream-headers.ts'
import type { Services } from '../../services.ts'
import type { Exchange, RequestContext } from './exchange.ts'
import { notification } from './listeners.ts'
import {
  classify,
  errorResponse,
  isLegacyVersion,
  isModernVersion,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type LogLevel,
  logRank,
  META,
  MODERN_VERSIONS,
  metaOf,
  primesStreams,
  RPC,
} from './protocol.ts'
import { type McpState, mcpState } from './state.ts'
import { PostStream, SSE_HEADERS } from './streams.ts'

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name]
  return typeof value === 'string' ? value : undefined
}

function sendRpc(reply: FastifyReply, status: number, body: JsonRpcResponse | undefined): FastifyReply {
  reply.code(status)
  if (body === undefined) return reply.send()
  return reply.type('application/json').send(JSON.stringify(body))
}

function rpcError(
  reply: FastifyReply,
  status: number,
  code: number,
  message: string,
  data?: unknown,
): FastifyReply {
  return sendRpc(reply, status, errorResponse(null, code, message, data))
}

function accepts(request: FastifyRequest): { json: boolean; sse: boolean } {
  const accept = header(request, 'accept')
  if (accept === undefined || accept.includes('*/*')) return { json: true, sse: accept !== undefined }
  return { json: accept.includes('application/json'), sse: accept.includes('text/event-stream') }
}

/**
 * One POST being answered: a plain JSON response unless a message must reach the client before
 * the answer (progress, a log line, a server→client request), in which case the response turns
 * into an SSE stream that carries those messages and then the answer.
 */
class HttpExchange implements Exchange {
  readonly #reply: FastifyReply
  readonly #state: McpState
  readonly #session: string | undefined
  readonly #version: string
  readonly #sse: boolean
  #stream: PostStream | undefined
  #controller: AbortController | undefined

  constructor(
    reply: FastifyReply,
    state: McpState,
    session: string | undefined,
    version: string,
    sse: boolean,
  ) {
    this.#reply = reply
    this.#state = state
    this.#session = session
    this.#version = version
    this.#sse = sse
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      const controller = new AbortController()
      this.#controller = controller
      const res = this.#reply.raw
      res.once('close', () => {
        // A closed POST stream of a resumable call is not a cancellation: the client resumes it.
        if (!res.writableFinished && !this.#stream?.resumable) controller.abort()
      })
    }
    return this.#controller.signal
  }

  get streaming(): boolean {
    return this.#stream !== undefined
  }

  /** Switches the answer to an SSE stream (before anything was sent). */
  startStream(): void {
    if (this.#stream) return
    const reply = this.#reply
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, { ...(reply.getHeaders() as Record<string, string>), ...SSE_HEADERS })
    const resumable = this.#session !== undefined && primesStreams(this.#version)
    const stream = new PostStream(res, this.#session, resumable)
    this.#stream = stream
    this.#state.streams.add(stream)
    stream.prime()
  }

  send(message: object): boolean {
    if (!this.#stream) {
      if (!this.#sse) return false
      this.startStream()
    }
    this.#stream!.send(message)
    return true
  }

  /** SEP-1699: ends the connection early; only for resumable streams, whose events wait for the resume. */
  closeStream(): void {
    if (this.#session === undefined || !primesStreams(this.#version)) return
    if (!this.#stream) {
      if (!this.#sse) return
      this.startStream()
    }
    this.#stream!.detach()
  }

  /** Sends the answer (or, for a cancelled call, ends without one). */
  finish(response: JsonRpcResponse | undefined): FastifyReply | undefined {
    const stream = this.#stream
    if (!stream) return sendRpc(this.#reply, response === undefined ? 202 : 200, response)
    stream.finish(response)
    this.#state.streams.retire(stream)
    return undefined
  }
}

async function servePost(services: Services, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const state = mcpState(services)
  const principal = request.principal!
  const body = request.body
  const message = classify(body)
  if (message.kind === 'invalid') {
    const reason = Array.isArray(body) ? 'JSON-RPC batches are not supported' : 'not a JSON-RPC 2.0 message'
    return rpcError(reply, 400, RPC.invalidRequest, `Invalid Request: ${reason}`)
  }
  const versionHeader = header(request, 'mcp-protocol-version')
  const params =
    message.kind === 'request' || message.kind === 'notification' ? message.message.params : undefined
  const meta = metaOf(params)
  const claim = meta?.[META.protocolVersion]

  if (claim !== undefined) return serveModern(state, request, reply, message, claim, versionHeader, principal)
  if (message.kind === 'request' && versionHeader !== undefined && isModernVersion(versionHeader)) {
    return rpcError(
      reply,
      400,
      RPC.invalidParams,
      `Invalid params: _meta is missing the required key ${META.protocolVersion}`,
    )
  }

  const tokens = await state.tokens
  if (message.kind === 'request' && message.message.method === 'initialize') {
    const p = message.message.params ?? {}
    const version = state.dispatcher.negotiate(p['protocolVersion'])
    const session = tokens.issue(version, principal, p['capabilities'])
    reply.header('mcp-session-id', session)
    return sendRpc(reply, 200, {
      jsonrpc: '2.0',
      id: message.message.id,
      result: state.dispatcher.initializeResult(version),
    })
  }
  if (versionHeader !== undefined && !isLegacyVersion(versionHeader)) {
    return rpcError(reply, 400, RPC.transport, `Bad Request: Unsupported protocol version: ${versionHeader}`)
  }
  const sessionId = header(request, 'mcp-session-id')
  if (sessionId === undefined)
    return rpcError(reply, 400, RPC.transport, 'Bad Request: Mcp-Session-Id header is required')
  const verified = tokens.verify(sessionId, principal)
  const session = verified instanceof Promise ? await verified : verified
  if (!session)
    return rpcError(reply, 404, RPC.sessionNotFound, 'Session not found: initialize a new session')

  if (message.kind === 'notification') {
    state.dispatcher.notification(message.message, sessionId)
    return reply.code(202).send()
  }
  if (message.kind === 'response') {
    state.dispatcher.response(message.id, message.result, message.error, sessionId)
    return reply.code(202).send()
  }
  const accept = accepts(request)
  const exchange = new HttpExchange(reply, state, sessionId, session.version, accept.sse)
  if (!accept.json || (accept.sse && metaOf(message.message.params)?.['progressToken'] !== undefined)) {
    exchange.startStream()
  }
  const ctx: RequestContext = {
    principal,
    trace: request.trace,
    version: session.version,
    modern: false,
    scope: sessionId,
    clientCapabilities: session.clientCapabilities,
    logLevel: state.dispatcher.logLevel(sessionId),
    exchange,
  }
  return exchange.finish(await state.dispatcher.request(message.message, ctx))
}

const NAME_SOURCE: Record<string, string> = {
  'tools/call': 'name',
  'resources/read': 'uri',
  'prompts/get': 'name',
}

function decodeHeaderValue(value: string): string | undefined {
  const m = /^=\?base64\?(.*)\?=$/.exec(value.trim())
  if (!m) return value.trim()
  try {
    return Buffer.from(m[1]!, 'base64').toString('utf8')
  } catch {
    return undefined
  }
}

/** 2026-07-28: no session; every request carries its envelope and the standard headers. */
async function serveModern(
  state: McpState,
  request: FastifyRequest,
  reply: FastifyReply,
  message: ReturnType<typeof classify>,
  claim: unknown,
  versionHeader: string | undefined,
  principal: Principal,
): Promise<unknown> {
  if (message.kind !== 'request' && message.kind !== 'notification') {
    return rpcError(reply, 400, RPC.invalidRequest, 'Invalid Request')
  }
  const m = message.message
  const id = message.kind === 'request' ? message.message.id : null
  if (typeof claim !== 'string' || !isModernVersion(claim)) {
    const requested = typeof claim === 'string' ? claim : String(claim)
    return sendRpc(
      reply,
      400,
      errorResponse(id, RPC.unsupportedVersion, `Unsupported protocol version: ${requested}`, {
        supported: [...MODERN_VERSIONS],
        requested,
      }),
    )
  }
  if (versionHeader !== undefined && versionHeader !== claim) {
    return sendRpc(
      reply,
      400,
      errorResponse(
        id,
        RPC.headerMismatch,
        `MCP-Protocol-Version header ${versionHeader} does not match the body (${claim})`,
      ),
    )
  }
  const methodHeader = header(request, 'mcp-method')
  if (methodHeader !== undefined && methodHeader !== m.method) {
    return sendRpc(
      reply,
      400,
      errorResponse(
        id,
        RPC.headerMismatch,
        `Mcp-Method header ${methodHeader} does not match the body (${m.method})`,
      ),
    )
  }
  if (message.kind === 'notification') {
    // Modern calls are cancelled by closing their stream; nothing here addresses another request.
    return reply.code(202).send()
  }
  const request_ = message.message
  if (versionHeader === undefined) {
    return sendRpc(
      reply,
      400,
      errorResponse(id, RPC.headerMismatch, 'The required MCP-Protocol-Version header is missing'),
    )
  }
  if (methodHeader === undefined) {
    return sendRpc(
      reply,
      400,
      errorResponse(id, RPC.headerMismatch, 'The required Mcp-Method header is missing'),
    )
  }
  const source = NAME_SOURCE[request_.method]
  const bodyName = source ? request_.params?.[source] : undefined
  if (typeof bodyName === 'string') {
    const nameHeader = header(request, 'mcp-name')
    if (nameHeader === undefined) {
      return sendRpc(
        reply,
        400,
        errorResponse(id, RPC.headerMismatch, 'The required Mcp-Name header is missing'),
      )
    }
    if (decodeHeaderValue(nameHeader) !== bodyName) {
      return sendRpc(
        reply,
        400,
        errorResponse(id, RPC.headerMismatch, `Mcp-Name header does not match params.${source}`),
      )
    }
  }
  const meta = metaOf(request_.params)!
  const capabilities = meta[META.clientCapabilities]
  if (capabilities === null || typeof capabilities !== 'object' || Array.isArray(capabilities)) {
    return sendRpc(
      reply,
      400,
      errorResponse(
        id,
        RPC.invalidParams,
        `Invalid params: _meta is missing the required key ${META.clientCapabilities}`,
      ),
    )
  }
  const level = meta[META.logLevel]
  if (request_.method === 'subscriptions/listen') return listen(state, reply, request_)
  const accept = accepts(request)
  const exchange = new HttpExchange(reply, state, undefined, claim, accept.sse)
  if (!accept.json || (accept.sse && meta['progressToken'] !== undefined)) exchange.startStream()
  const ctx: RequestContext = {
    principal,
    trace: request.trace,
    version: claim,
    modern: true,
    scope: undefined,
    clientCapabilities: capabilities as Record<string, unknown>,
    logLevel: typeof level === 'string' && logRank(level) >= 0 ? (level as LogLevel) : undefined,
    exchange,
  }
  return exchange.finish(await state.dispatcher.request(request_, ctx))
}

/** 2026-07-28 `subscriptions/listen`: an SSE stream that opens with the acknowledgement. */
function listen(state: McpState, reply: FastifyReply, request: JsonRpcRequest): undefined | FastifyReply {
  const wanted = request.params?.['notifications']
  if (wanted === null || typeof wanted !== 'object' || Array.isArray(wanted)) {
    return sendRpc(
      reply,
      200,
      errorResponse(request.id, RPC.invalidParams, "Invalid params: 'notifications' is required"),
    )
  }
  const filter = wanted as Record<string, unknown>
  const honored: Record<string, boolean> = {}
  if (filter['toolsListChanged'] === true) honored['toolsListChanged'] = true
  if (filter['resourcesListChanged'] === true) honored['resourcesListChanged'] = true
  reply.hijack()
  const res = reply.raw
  res.writeHead(200, { ...(reply.getHeaders() as Record<string, string>), ...SSE_HEADERS })
  res.write(
    `event: message\ndata: ${JSON.stringify(notification('notifications/subscriptions/acknowledged', request.id, { notifications: honored }))}\n\n`,
  )
  state.listeners.add({
    res,
    tools: honored['toolsListChanged'] === true,
    resources: honored['resourcesListChanged'] === true,
    subscriptionId: request.id,
  })
  return undefined
}

/** GET /mcp: the session's stream for server notifications, or the resumption of a POST stream. */
async function serveGet(services: Services, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const state = mcpState(services)
  if (!accepts(request).sse || header(request, 'accept') === undefined) {
    return rpcError(reply, 406, RPC.transport, 'Not Acceptable: GET /mcp needs Accept: text/event-stream')
  }
  const sessionId = header(request, 'mcp-session-id')
  if (sessionId === undefined) {
    reply.header('allow', 'POST, DELETE')
    return rpcError(
      reply,
      405,
      RPC.transport,
      'Method Not Allowed: GET /mcp needs an Mcp-Session-Id (2026-07-28 clients use subscriptions/listen)',
    )
  }
  const tokens = await state.tokens
  if (!(await tokens.verify(sessionId, request.principal!))) {
    return rpcError(reply, 404, RPC.sessionNotFound, 'Session not found: initialize a new session')
  }
  reply.hijack()
  const res = reply.raw
  res.writeHead(200, { ...(reply.getHeaders() as Record<string, string>), ...SSE_HEADERS })
  res.flushHeaders()
  const standalone = (r: ServerResponse) => state.listeners.add({ res: r, tools: true, resources: true })
  const lastEventId = header(request, 'last-event-id')
  const resumed = lastEventId !== undefined ? state.streams.find(lastEventId, sessionId) : undefined
  if (resumed) resumed.stream.attach(res, resumed.after, standalone)
  else standalone(res)
  return undefined
}

async function serveDelete(
  services: Services,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<unknown> {
  const state = mcpState(services)
  const sessionId = header(request, 'mcp-session-id')
  if (sessionId === undefined)
    return rpcError(reply, 400, RPC.transport, 'Bad Request: Mcp-Session-Id header is required')
  const tokens = await state.tokens
  if (!(await tokens.verify(sessionId, request.principal!))) {
    return rpcError(reply, 404, RPC.sessionNotFound, 'Session not found')
  }
  await tokens.revoke(sessionId)
  state.dispatcher.forget(sessionId)
  return reply.code(200).send()
}

const mcpHeaders = Type.Object({
  'mcp-session-id': Type.Optional(
    Type.String({ description: 'The session from the initialize response (2025-era revisions).' }),
  ),
  'mcp-protocol-version': Type.Optional(Type.String({ description: 'The negotiated protocol revision.' })),
  'mcp-method': Type.Optional(Type.String({ description: '2026-07-28: the JSON-RPC method of the body.' })),
  'mcp-name': Type.Optional(
    Type.String({ description: '2026-07-28: params.name / params.uri of the body.' }),
  ),
  'last-event-id': Type.Optional(Type.String({ description: 'GET: resume a POST stream after this event.' })),
  origin: Type.Optional(
    Type.String({ description: 'Checked against loopback and ARW_MCP_ALLOWED_ORIGINS (403 otherwise).' }),
  ),
})

const common = { tags: ['mcp'], auth: 'admin' as const, headers: mcpHeaders }

/**
 * What the transport answers when it refuses a message (not a problem: MCP clients read JSON-RPC):
 * an error response with a null id.
 */
const JsonRpcError = Type.Object(
  {
    jsonrpc: Type.Literal('2.0'),
    id: Type.Union([Type.String(), Type.Number(), Type.Null()]),
    error: Type.Object({
      code: Type.Integer(),
      message: Type.String(),
      data: Type.Optional(Type.Unknown()),
    }),
  },
  { description: 'A JSON-RPC 2.0 error response.' },
)

function rpcRefusal(description: string): ResponseDoc {
  return { description: `JSON-RPC error: ${description}`, schema: JsonRpcError }
}

const ORIGIN_REFUSED = rpcRefusal('the Origin or Host is not allowed (DNS-rebinding protection).')
const SESSION_UNKNOWN = rpcRefusal('the Mcp-Session-Id is unknown or ended; initialize again.')
const SESSION_HEADER = {
  'mcp-session-id': {
    description: 'The session an initialize request opened (2025-era revisions).',
    schema: Type.String(),
  },
}

export const mcpRoutes: RouteDef<Services>[] = [
  defineRoute({
    doc: {
      ...common,
      method: 'POST',
      path: '/mcp',
      operationId: 'mcpPost',
      summary: 'MCP Streamable HTTP endpoint',
      description:
        'One JSON-RPC 2.0 request, notification or response per POST (protocol revisions 2025-03-26, 2025-06-18, 2025-11-25 with sessions, and 2026-07-28 with the per-request `_meta` envelope). Requests are answered with `application/json`, or with `text/event-stream` when the call reports progress or talks back to the client before its answer. Every `tools/call` runs through the same governed pipeline as `POST /tools/{tool_id}:invoke`.',
      body: Type.Unknown({ description: 'One JSON-RPC 2.0 request, notification or response.' }),
      bodyRequired: true,
      responses: {
        200: {
          description:
            'The JSON-RPC response, or an SSE stream of the messages before it and then it (`text/event-stream`).',
          schema: Type.Unknown(),
          otherContent: { 'text/event-stream': Type.String() },
          headers: { ...SESSION_HEADER, ...STREAM_HEADERS },
        },
        202: { description: 'A notification or response was accepted (no body).' },
        400: rpcRefusal('not a JSON-RPC 2.0 message, a batch, or a missing or unsupported header.'),
        403: ORIGIN_REFUSED,
        404: SESSION_UNKNOWN,
      },
      errors: ['validation_failed', 'forbidden', 'not_found', 'payload_too_large'],
    },
    handler: (services) => (request, reply) => servePost(services, request, reply),
  }),
  defineRoute({
    doc: {
      ...common,
      method: 'GET',
      path: '/mcp',
      operationId: 'mcpStream',
      summary: 'MCP server-to-client event stream',
      description:
        'An SSE stream of server notifications (tools/list_changed, resources/list_changed) for a session; with Last-Event-ID, resumes a POST stream after that event first.',
      responses: {
        200: {
          description: 'SSE stream.',
          contentType: 'text/event-stream',
          schema: Type.String(),
          headers: STREAM_HEADERS,
        },
        403: ORIGIN_REFUSED,
        404: SESSION_UNKNOWN,
        405: {
          ...rpcRefusal('no Mcp-Session-Id: 2026-07-28 clients use subscriptions/listen instead.'),
          headers: {
            allow: { description: 'The methods that do apply: POST, DELETE.', schema: Type.String() },
          },
        },
        406: rpcRefusal('the request does not accept text/event-stream.'),
      },
      errors: ['not_found'],
    },
    handler: (services) => (request, reply) => serveGet(services, request, reply),
  }),
  defineRoute({
    doc: {
      ...common,
      method: 'DELETE',
      path: '/mcp',
      operationId: 'mcpEndSession',
      summary: 'End an MCP session',
      responses: {
        200: { description: 'The session is ended on every replica (no body).' },
        400: rpcRefusal('the Mcp-Session-Id header is missing.'),
        403: ORIGIN_REFUSED,
        404: SESSION_UNKNOWN,
      },
      errors: ['not_found'],
    },
    handler: (services) => (request, reply) => serveDelete(services, request, reply),
  }),
]
