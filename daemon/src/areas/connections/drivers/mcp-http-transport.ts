import { StringDecoder } from 'node:string_decoder'
import type {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js'
import { ErrorCode, type JSONRPCMessage, McpError } from '@modelcontextprotocol/sdk/types.js'
import { createParser, type EventSourceMessage } from 'eventsource-parser'
import { Pool } from 'undici'
import { type EgressCheck, parseRetryAfter } from '../driver.ts'

/**
 * The Streamable HTTP client transport of the mcp driver: the SDK's `Client` does the protocol on
 * top of it, as on the SDK's own transport, but the messages of an open session (every tools/call,
 * its cancellation, pings) are posted by this class through an undici Pool (kept-alive connections
 * to the upstream's origin, one per call in flight), and the answer read as it arrives:
 * `application/json` parsed at once, `text/event-stream` fed to eventsource-parser's push parser.
 * Measured under the federation bench, the SDK's transport spent most of the daemon's CPU per
 * federated call on a fetch `Response` per request, a TextDecoderStream and an EventSourceParserStream
 * per answer, a `Headers` object per request, and a zod parse of every message that the SDK's
 * Protocol repeats when it dispatches the message anyway; undici's dispatch took less CPU per call
 * than node:http's ClientRequest.
 *
 * Everything else stays with the SDK's transport, which this one wraps and shares the session with:
 * the initialize handshake (the session id and protocol version are read from it), the
 * server-initiated GET stream it opens after `notifications/initialized` (where upstream
 * notifications such as tools/list_changed arrive, with its reconnection), resuming a POST stream
 * the server closed after a priming event, a request answered by a redirect (sent again through the
 * SDK, which follows redirects within the origin), the DELETE that ends the session, and close.
 */

/**
 * The ids of the tools/call requests `call` sends itself. The SDK's Protocol numbers its own
 * requests 0, 1, 2...: a string id with this prefix is never one of them, so an answer is routed by
 * its id alone, whichever stream it arrives on.
 */
const CALL_ID_PREFIX = 'arw-call-'

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

/**
 * The answer to one POST, fed by undici's dispatch handler: status and content type when the head
 * arrives, then the body, which is buffered until the transport starts reading it (undici may hand
 * over the first chunk in the same tick as the head).
 */
class Answer {
  readonly status: number
  readonly contentType: string | undefined
  readonly retryAfter: string | undefined
  #chunks: Buffer[] = []
  /** undefined while the body is coming; null once it is complete; the error if it broke off. */
  #end: Error | null | undefined
  #onData: ((chunk: Buffer) => void) | undefined
  #onEnd: ((error: Error | null) => void) | undefined

  constructor(status: number, contentType: string | undefined, retryAfter: string | undefined) {
    this.status = status
    this.contentType = contentType
    this.retryAfter = retryAfter
  }

  push(chunk: Buffer): void {
    if (this.#onData) this.#onData(chunk)
    else this.#chunks.push(chunk)
  }

  finish(error: Error | null): void {
    if (this.#end !== undefined) return
    this.#end = error
    this.#onEnd?.(error)
  }

  read(onData: (chunk: Buffer) => void, onEnd: (error: Error | null) => void): void {
    for (const chunk of this.#chunks) onData(chunk)
    this.#chunks = []
    this.#onData = onData
    this.#onEnd = onEnd
    if (this.#end !== undefined) onEnd(this.#end)
  }

  /** The body as text, cut at `limit` characters. */
  text(limit = Number.POSITIVE_INFINITY): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = []
      let size = 0
      this.read(
        (chunk) => {
          if (size < limit) {
            chunks.push(chunk)
            size += chunk.length
          }
        },
        (error) => {
          if (error) return reject(error)
          const text = Buffer.concat(chunks).toString('utf8')
          resolve(text.length > limit ? text.slice(0, limit) : text)
        },
      )
    })
  }
}

/**
 * One tools/call sent by `McpHttpTransport.call`, until its answer, its deadline, its caller's
 * abort or the end of the transport. An object with methods rather than closures: it is the abort
 * listener itself (`handleEvent`) and its timer's argument.
 */
class PendingCall {
  readonly id: string
  readonly #transport: McpHttpTransport
  readonly #resolve: (result: Record<string, unknown>) => void
  readonly #reject: (error: unknown) => void
  readonly #signal: AbortSignal
  readonly #timeoutMs: number
  readonly #timer: NodeJS.Timeout

  constructor(
    transport: McpHttpTransport,
    id: string,
    signal: AbortSignal,
    timeoutMs: number,
    resolve: (result: Record<string, unknown>) => void,
    reject: (error: unknown) => void,
  ) {
    this.id = id
    this.#transport = transport
    this.#signal = signal
    this.#timeoutMs = timeoutMs
    this.#resolve = resolve
    this.#reject = reject
    signal.addEventListener('abort', this, { once: true })
    this.#timer = setTimeout(PendingCall.#expire, timeoutMs, this)
  }

  static #expire(call: PendingCall): void {
    call.cancel(
      McpError.fromError(ErrorCode.RequestTimeout, 'Request timed out', { timeout: call.#timeoutMs }),
    )
  }

  /**
   * The caller's signal aborted: cancelled upstream, failed with the signal's own reason, as the
   * SDK does (the driver answers the caller's abort with that reason, whatever else it is given).
   */
  handleEvent(): void {
    this.cancel(this.#signal.reason)
  }

  #settle(): void {
    clearTimeout(this.#timer)
    this.#signal.removeEventListener('abort', this)
  }

  /** The answer (a JSON-RPC response with this call's id). */
  answer(message: { result?: unknown; error?: { code: number; message: string; data?: unknown } }): void {
    this.#settle()
    if (message.error !== undefined) {
      const { code, message: text, data } = message.error
      this.#reject(McpError.fromError(code, text, data))
      return
    }
    const result = message.result
    if (typeof result !== 'object' || result === null || Array.isArray(result)) {
      this.#reject(new Error('the upstream answered tools/call with a result that is not an object'))
      return
    }
    this.#resolve(result as Record<string, unknown>)
  }

  /** Fails the call without telling the upstream (the message could not be sent, the transport closed). */
  fail(error: unknown): void {
    if (!this.#transport.forget(this)) return
    this.#settle()
    this.#reject(error)
  }

  /** Fails the call and tells the upstream to stop working on it (notifications/cancelled). */
  cancel(error: unknown): void {
    if (!this.#transport.forget(this)) return
    this.#settle()
    this.#transport.cancelled(this.id, error)
    this.#reject(error)
  }
}

/** The value of one header in undici's raw list (name, value, name, value, ...). */
function headerOf(raw: Buffer[], name: string): string | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.length === name.length && raw[i]!.toString('latin1').toLowerCase() === name) {
      return raw[i + 1]!.toString('latin1')
    }
  }
  return undefined
}

export class McpHttpTransport implements Transport {
  readonly #path: string
  readonly #headers: Record<string, string>
  readonly #sdk: StreamableHTTPClientTransport
  readonly #HttpError: ErrorClass
  /** Kept-alive connections to the upstream's origin, as many as calls are in flight. */
  readonly #pool: Pool
  readonly #url: URL
  /** Asked before each POST this transport sends itself (the SDK's go through the session fetch). */
  readonly #egress: EgressCheck
  /** The headers of a session's POST, built once per session id and protocol version. */
  #postHeaders: Record<string, string> | undefined
  #postHeadersFor = ''
  /** Set when the endpoint answered a redirect: from then on every message goes through the SDK. */
  #redirected = false
  /** Whether the initialize handshake is done; until then every message goes through the SDK. */
  #initialized = false
  #closed = false
  /** The tools/call requests `call` sent, by id, until answered. */
  readonly #calls = new Map<string, PendingCall>()
  #callIds = 0

  onclose?: () => void
  onerror?: (error: Error) => void
  onmessage?: <T extends JSONRPCMessage>(message: T) => void

  constructor(
    url: URL,
    headers: Record<string, string>,
    sdk: StreamableHTTPClientTransport,
    HttpError: ErrorClass,
    egress: EgressCheck,
  ) {
    this.#url = url
    this.#egress = egress
    this.#headers = headers
    this.#sdk = sdk
    this.#HttpError = HttpError
    this.#path = `${url.pathname}${url.search}`
    this.#pool = new Pool(url.origin)
  }

  get sessionId(): string | undefined {
    return this.#sdk.sessionId
  }

  setProtocolVersion(version: string): void {
    this.#sdk.setProtocolVersion(version)
  }

  async start(): Promise<void> {
    this.#sdk.onmessage = (message) => this.#deliver(message)
    this.#sdk.onerror = (error) => this.onerror?.(error)
    this.#sdk.onclose = () => {
      this.onclose?.()
      // As the SDK's Protocol fails its requests in flight when its transport closes.
      this.failCalls(McpError.fromError(ErrorCode.ConnectionClosed, 'Connection closed'))
    }
    await this.#sdk.start()
  }

  /** Whether `call` can be used: the handshake is done and the transport is open. */
  get ready(): boolean {
    return this.#initialized && !this.#closed
  }

  /**
   * Sends a tools/call and resolves with its result, without the SDK's Protocol: the SDK checks
   * every answer with zod several times (is it a response? a result response? the result schema),
   * keeps a timeout and an abort listener in closures per request, and the driver had to give it
   * an AbortController of its own per call (it never removes its listener from a request's signal).
   * What the Protocol did is kept: a request id of its own, the deadline (a RequestTimeout
   * McpError, then notifications/cancelled), the caller's abort (notifications/cancelled with the
   * reason), an error answer as McpError, the transport's close (ConnectionClosed). Everything the
   * upstream sends besides the answer (progress, logs, requests to the client) still goes to the
   * SDK's Protocol, through `onmessage`.
   */
  call(
    params: Record<string, unknown>,
    signal: AbortSignal,
    timeoutMs: number,
  ): Promise<Record<string, unknown>> {
    if (!this.ready) return Promise.reject(new Error('Not connected'))
    if (signal.aborted) return Promise.reject(signal.reason)
    const id = `${CALL_ID_PREFIX}${++this.#callIds}`
    return new Promise((resolve, reject) => {
      const pending = new PendingCall(this, id, signal, timeoutMs, resolve, reject)
      this.#calls.set(id, pending)
      this.send({ jsonrpc: '2.0', id, method: 'tools/call', params }).catch((error: unknown) =>
        pending.fail(error),
      )
    })
  }

  /** Removes a call from those waiting for an answer; false when it no longer waits. */
  forget(call: PendingCall): boolean {
    return this.#calls.delete(call.id)
  }

  /** Tells the upstream a call was given up (best effort, as the SDK does). */
  cancelled(id: string, reason: unknown): void {
    if (this.#closed) return
    this.send({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: id, reason: String(reason) },
    }).catch((error: unknown) => this.onerror?.(new Error(`Failed to send cancellation: ${error}`)))
  }

  /** Fails every call in flight with `error` (the transport closed, or a probe found the upstream gone). */
  failCalls(error: unknown, tellUpstream = false): void {
    for (const call of [...this.#calls.values()]) {
      if (tellUpstream) call.cancel(error)
      else call.fail(error)
    }
  }

  /**
   * A message from the upstream: the answer to a call of `call` goes to it; an answer to one that
   * was given up is dropped (nobody waits for it); everything else goes to the SDK's Protocol.
   */
  #deliver(message: JSONRPCMessage): void {
    const id = (message as { id?: unknown }).id
    if (typeof id === 'string' && id.startsWith(CALL_ID_PREFIX) && !('method' in message)) {
      const pending = this.#calls.get(id)
      if (pending) {
        this.#calls.delete(id)
        pending.answer(message as Parameters<PendingCall['answer']>[0])
      }
      return
    }
    this.onmessage?.(message)
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (!this.#initialized || this.#redirected || options?.resumptionToken !== undefined) {
      if ('method' in message && message.method === 'notifications/initialized') {
        // The handshake is over: the session id (if the server gave one) and the protocol version
        // are known, and the SDK opens its GET stream once this notification is accepted.
        return this.#sdkSend(message, options).then(() => {
          this.#initialized = true
        })
      }
      return this.#sdkSend(message, options)
    }
    return this.#post(message, this.#sdk.sessionId)
      .then((answer) => this.#answer(message, answer, options))
      .catch((error: Error) => {
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
    // Fails the POSTs still in flight, as the SDK's transport does by aborting its fetches.
    await this.#pool.destroy(closed).catch(() => undefined)
    await this.#sdk.close()
    this.failCalls(McpError.fromError(ErrorCode.ConnectionClosed, 'Connection closed'))
  }

  #headersFor(session: string | undefined): Record<string, string> {
    const version = this.#sdk.protocolVersion ?? ''
    const key = `${session ?? ''}\n${version}`
    if (this.#postHeaders === undefined || this.#postHeadersFor !== key) {
      this.#postHeaders = {
        ...this.#headers,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        // A stateless server gives no session id.
        ...(session !== undefined ? { 'mcp-session-id': session } : {}),
        ...(version !== '' ? { 'mcp-protocol-version': version } : {}),
      }
      this.#postHeadersFor = key
    }
    return this.#postHeaders
  }

  #post(message: JSONRPCMessage, session: string | undefined): Promise<Answer> {
    if (this.#closed) return Promise.reject(new Error('Not connected'))
    try {
      this.#egress(this.#url, 'POST')
    } catch (error) {
      return Promise.reject(error)
    }
    return new Promise<Answer>((resolve, reject) => {
      let answer: Answer | undefined
      this.#pool.dispatch(
        {
          method: 'POST',
          path: this.#path,
          headers: this.#headersFor(session),
          body: JSON.stringify(message),
        },
        {
          onConnect: () => undefined,
          onHeaders: (status, raw) => {
            if (status < 200) return true // 1xx: the answer's own head follows
            answer = new Answer(status, headerOf(raw, 'content-type'), headerOf(raw, 'retry-after'))
            resolve(answer)
            return true
          },
          onData: (chunk) => {
            answer?.push(chunk)
            return true
          },
          onComplete: () => answer?.finish(null),
          onError: (error) => {
            if (answer) answer.finish(error)
            else reject(error)
          },
        },
      )
    })
  }

  async #answer(
    message: JSONRPCMessage,
    res: Answer,
    options: TransportSendOptions | undefined,
  ): Promise<void> {
    const status = res.status
    if (status >= 300 && status < 400) {
      // The SDK knows which redirects to follow (within the origin, keeping the method); the
      // request was not processed here, so it is sent again through it.
      this.#redirected = true
      return this.#sdkSend(message, options)
    }
    if (status < 200 || status >= 300) {
      const text = await res.text(MAX_ERROR_BODY).catch(() => '')
      const error = new this.#HttpError(status, `Error POSTing to endpoint: ${text}`)
      // What the SDK's transport does not keep: how long a 429 or 503 asks the caller to wait.
      const retryAfterMs = parseRetryAfter(res.retryAfter ?? null)
      if (retryAfterMs !== undefined) Object.assign(error, { retryAfterMs })
      throw error
    }
    // A body nobody reads is dropped as it arrives (undici reads it to keep the connection).
    if (status === 202 || !isRequest(message)) return
    const type = mediaType(res.contentType)
    if (type === 'application/json') {
      const data: unknown = JSON.parse(await res.text())
      if (!Array.isArray(data)) this.#deliver(asMessage(data))
      else for (const m of data.map(asMessage)) this.#deliver(m)
      return
    }
    if (type === 'text/event-stream') {
      // As the SDK does: the send is done when the stream is open; its messages follow.
      this.#readStream(res, options)
      return
    }
    throw new this.#HttpError(-1, `Unexpected content type: ${res.contentType}`)
  }

  /** Reads a POST's event stream; a stream that ends before its answer is resumed like the SDK does. */
  #readStream(res: Answer, options: TransportSendOptions | undefined): void {
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
        this.#deliver(parsed)
      },
      onRetry: (ms: number) => {
        retryMs = ms
      },
    })
    // A decoder of its own: a character may be split between two chunks.
    const decoder = new StringDecoder('utf8')
    res.read(
      (chunk) => parser.feed(decoder.write(chunk)),
      (error) => {
        if (error && !this.#closed) this.onerror?.(new Error(`SSE stream disconnected: ${error}`))
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
      },
    )
  }
}
