import {
  type ClientRequest,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
} from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import type {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js'
import { createParser, type EventSourceMessage } from 'eventsource-parser'

/**
 * The Streamable HTTP client transport of the mcp driver: the SDK's `Client` does the protocol on
 * top of it, as on the SDK's own transport, but the messages of an open session (every tools/call,
 * its cancellation, pings) are posted by this class directly over node:http with a keep-alive agent,
 * and the answer read from the socket: `application/json` parsed at once, `text/event-stream` fed to
 * eventsource-parser's push parser. Measured under the federation bench, the SDK transport spent most
 * of the daemon's CPU per federated call on a web `Response` per request, a TextDecoderStream and an
 * EventSourceParserStream per answer, a `Headers` object per request, and a zod parse of every
 * message that the SDK's Protocol repeats when it dispatches the message anyway.
 *
 * Everything else stays with the SDK's transport, which this one wraps and shares the session with:
 * the initialize handshake (the session id and protocol version are read from it), the
 * server-initiated GET stream it opens after `notifications/initialized` (where upstream
 * notifications such as tools/list_changed arrive, with its reconnection), resuming a POST stream
 * the server closed after a priming event, a request answered by a redirect (sent again through the
 * SDK, which follows redirects within the origin), the DELETE that ends the session, and close.
 */

/** An error answer's body is read this far for the excerpt; the rest is dropped. */
const MAX_ERROR_BODY = 64 * 1024
/** The SDK's first reconnection delay, used when a stream closes before its answer without a `retry:`. */
const RESUME_DELAY_MS = 1_000

type ErrorClass = typeof StreamableHTTPError

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';', 1)[0]!.trim().toLowerCase()
}

/** A request (has a method and an id): the only messages whose POST answer carries messages. */
function isRequest(message: JSONRPCMessage): boolean {
  return 'method' in message && 'id' in message && message.id !== undefined
}

function isResponse(message: unknown): boolean {
  return (
    typeof message === 'object' &&
    message !== null &&
    'id' in message &&
    ('result' in message || 'error' in message)
  )
}

/**
 * The SDK's Protocol tells requests, responses and notifications apart with its own schema checks
 * (and reports what is none of them), so only the JSON-RPC envelope is checked here.
 */
function asMessage(value: unknown): JSONRPCMessage {
  if (typeof value !== 'object' || value === null || (value as { jsonrpc?: unknown }).jsonrpc !== '2.0') {
    throw new Error('the upstream sent a message that is not JSON-RPC 2.0')
  }
  return value as JSONRPCMessage
}

function readText(res: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    res.setEncoding('utf8')
    res.on('data', (chunk: string) => {
      if (text.length < limit) text += chunk
    })
    res.once('end', () => resolve(text.length > limit ? text.slice(0, limit) : text))
    res.once('error', reject)
  })
}

export class McpHttpTransport implements Transport {
  /** Where every POST goes, resolved from the URL once (node:http re-reads a URL object per request). */
  readonly #target: { protocol: string; hostname: string; port: string; path: string }
  readonly #headers: Record<string, string>
  readonly #sdk: StreamableHTTPClientTransport
  readonly #HttpError: ErrorClass
  readonly #agent: HttpAgent
  readonly #send: typeof httpRequest
  readonly #open = new Set<ClientRequest>()
  /** The headers of a session's POST, built once per session id and protocol version. */
  #postHeaders: Record<string, string> | undefined
  #postHeadersFor = ''
  /** Set when the endpoint answered a redirect: from then on every message goes through the SDK. */
  #redirected = false
  #closed = false

  onclose?: () => void
  onerror?: (error: Error) => void
  onmessage?: <T extends JSONRPCMessage>(message: T) => void

  constructor(
    url: URL,
    headers: Record<string, string>,
    sdk: StreamableHTTPClientTransport,
    HttpError: ErrorClass,
  ) {
    this.#target = {
      protocol: url.protocol,
      // node:http wants an IPv6 literal without its brackets.
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port,
      path: `${url.pathname}${url.search}`,
    }
    this.#headers = headers
    this.#sdk = sdk
    this.#HttpError = HttpError
    const secure = url.protocol === 'https:'
    this.#agent = secure ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true })
    this.#send = secure ? (httpsRequest as typeof httpRequest) : httpRequest
  }

  get sessionId(): string | undefined {
    return this.#sdk.sessionId
  }

  setProtocolVersion(version: string): void {
    this.#sdk.setProtocolVersion(version)
  }

  async start(): Promise<void> {
    this.#sdk.onmessage = (message) => this.onmessage?.(message)
    this.#sdk.onerror = (error) => this.onerror?.(error)
    this.#sdk.onclose = () => this.onclose?.()
    await this.#sdk.start()
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const session = this.#sdk.sessionId
    if (
      this.#redirected ||
      options?.resumptionToken !== undefined ||
      session === undefined ||
      ('method' in message &&
        (message.method === 'initialize' || message.method === 'notifications/initialized'))
    ) {
      return this.#sdkSend(message, options)
    }
    return this.#post(message, session, options).catch((error: Error) => {
      this.onerror?.(error)
      throw error
    })
  }

  #sdkSend(message: JSONRPCMessage, options: TransportSendOptions | undefined): Promise<void> {
    // The same options; the SDK class declares them without `| undefined` on its optional fields.
    return this.#sdk.send(message, options as Parameters<StreamableHTTPClientTransport['send']>[1])
  }

  /** Ends the session on the server (DELETE), through the SDK's transport. */
  terminateSession(): Promise<void> {
    return this.#sdk.terminateSession()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const closed = new Error('the transport was closed')
    closed.name = 'AbortError'
    for (const req of this.#open) req.destroy(closed)
    this.#open.clear()
    this.#agent.destroy()
    await this.#sdk.close()
  }

  #headersFor(session: string): Record<string, string> {
    const version = this.#sdk.protocolVersion ?? ''
    const key = `${session}\n${version}`
    if (this.#postHeaders === undefined || this.#postHeadersFor !== key) {
      this.#postHeaders = {
        ...this.#headers,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': session,
        ...(version !== '' ? { 'mcp-protocol-version': version } : {}),
      }
      this.#postHeadersFor = key
    }
    return this.#postHeaders
  }

  #post(message: JSONRPCMessage, session: string, options: TransportSendOptions | undefined): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('Not connected'))
    const body = JSON.stringify(message)
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = this.#send({
        ...this.#target,
        method: 'POST',
        agent: this.#agent,
        headers: { ...this.#headersFor(session), 'content-length': String(Buffer.byteLength(body)) },
      })
      this.#open.add(req)
      req.once('close', () => this.#open.delete(req))
      req.once('response', resolve)
      req.once('error', reject)
      req.end(body)
    }).then((res) => this.#answer(message, res, options))
  }

  async #answer(
    message: JSONRPCMessage,
    res: IncomingMessage,
    options: TransportSendOptions | undefined,
  ): Promise<void> {
    const status = res.statusCode ?? 0
    if (status >= 300 && status < 400) {
      // The SDK knows which redirects to follow (within the origin, keeping the method); the
      // request was not processed here, so it is sent again through it.
      res.resume()
      this.#redirected = true
      return this.#sdkSend(message, options)
    }
    if (status < 200 || status >= 300) {
      const text = await readText(res, MAX_ERROR_BODY).catch(() => '')
      throw new this.#HttpError(status, `Error POSTing to endpoint: ${text}`)
    }
    if (status === 202 || !isRequest(message)) {
      res.resume()
      return
    }
    const type = mediaType(res.headers['content-type'])
    if (type === 'application/json') {
      const data: unknown = JSON.parse(await readText(res, Number.POSITIVE_INFINITY))
      const messages = Array.isArray(data) ? data.map(asMessage) : [asMessage(data)]
      for (const m of messages) this.onmessage?.(m)
      return
    }
    if (type === 'text/event-stream') {
      // As the SDK does: the send is done when the stream is open; its messages follow.
      this.#readStream(res, options)
      return
    }
    res.resume()
    throw new this.#HttpError(-1, `Unexpected content type: ${res.headers['content-type']}`)
  }

  /** Reads a POST's event stream; a stream that ends before its answer is resumed like the SDK does. */
  #readStream(res: IncomingMessage, options: TransportSendOptions | undefined): void {
    let lastEventId: string | undefined
    let answered = false
    let retryMs: number | undefined
    const parser = createParser({
      onEvent: (event: EventSourceMessage) => {
        if (event.id) {
          lastEventId = event.id
          options?.onresumptiontoken?.(event.id)
        }
        if (!event.data || (event.event !== undefined && event.event !== 'message')) return
        let parsed: JSONRPCMessage
        try {
          parsed = asMessage(JSON.parse(event.data))
        } catch (error) {
          this.onerror?.(error as Error)
          return
        }
        if (isResponse(parsed)) answered = true
        this.onmessage?.(parsed)
      },
      onRetry: (ms: number) => {
        retryMs = ms
      },
    })
    res.setEncoding('utf8')
    res.on('data', (chunk: string) => parser.feed(chunk))
    res.once('error', () => undefined)
    res.once('close', () => {
      if (!res.complete) this.onerror?.(new Error('SSE stream disconnected: the connection closed'))
      // A server that primed the stream with an event id may close it and replay on a GET with
      // Last-Event-ID; the SDK's transport does that resumption.
      if (lastEventId !== undefined && !answered && !this.#closed) {
        const resume = lastEventId
        setTimeout(() => {
          if (this.#closed) return
          this.#sdk
            .resumeStream(
              resume,
              options?.onresumptiontoken ? { onresumptiontoken: options.onresumptiontoken } : undefined,
            )
            .catch((error: Error) => this.onerror?.(error))
        }, retryMs ?? RESUME_DELAY_MS).unref()
      }
    })
  }
}
