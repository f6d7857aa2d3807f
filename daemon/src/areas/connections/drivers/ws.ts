import { formatTraceparent } from '@arw/protocol'
import type { ToolHints } from '@arw/registry'
import type { Logger } from 'pino'
import { WebSocket } from 'ws'
import {
  type ConnectorDriver,
  type OpenOptions,
  type UpstreamCall,
  UpstreamError,
  type UpstreamSession,
  type UpstreamTool,
} from '../driver.ts'

/**
 * The `ws` driver: a service that speaks JSON messages over one WebSocket. The protocol (also in
 * docs/connections.md):
 *
 * Target `{ url: "ws://…" | "wss://…", tools?: [{ name, input, output?, title?, description?,
 * hints?, retrySafe? }] }`. The daemon opens one socket per connection, sending
 * `Authorization: Bearer <secret>` on the upgrade request when a secret is bound. Every message is
 * one JSON object in a text frame; `id` is a string the daemon chooses, echoed in every answer.
 *
 *   daemon → service
 *     {"type":"tools/list","id":"1"}                           (only when the target declares no tools)
 *     {"type":"call","id":"2","tool":"search","input":{…},"traceparent":"00-…"}  (traceparent: W3C, optional)
 *     {"type":"cancel","id":"2"}                               (the caller gave up; answer nothing more)
 *   service → daemon
 *     {"type":"result","id":"1","output":{"tools":[…]}}        (tools: the entries described above)
 *     {"type":"result","id":"2","output":{…}}                  (output: a JSON object)
 *     {"type":"error","id":"2","message":"…","status":404,"retryable":false,"retryAfterMs":1000}
 *                                                              (status, retryable, retryAfterMs optional)
 *     {"type":"progress","id":"2","progress":3,"total":10,"message":"…"}   (total, message optional)
 *     {"type":"tools/changed"}                                 (optional: ask for the list again)
 *
 * Health tests use WebSocket ping frames, which every conforming server answers. When the socket
 * closes, calls in flight fail (an `UpstreamError`, not retryable: the service may have acted) and
 * the session reports itself closed; reconnecting is the area's job. Binary frames, unparseable
 * messages and answers to unknown ids are ignored (logged at debug level).
 */

/** Largest message accepted from the service (bytes); a larger one closes the socket (1009). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024
const TARGET_KEYS = new Set(['url', 'tools'])
const TOOL_KEYS = new Set(['name', 'title', 'description', 'input', 'output', 'hints', 'retrySafe'])
const HINT_KEYS = ['readOnly', 'destructive', 'idempotent', 'openWorld'] as const
const TOOLS_LIST_TIMEOUT_MS = 30_000
const CLOSE_GRACE_MS = 1000

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function wsUrl(value: unknown): URL | undefined {
  if (typeof value !== 'string') return undefined
  try {
    const url = new URL(value)
    return url.protocol === 'ws:' || url.protocol === 'wss:' ? url : undefined
  } catch {
    return undefined
  }
}

/** What is wrong with one declared tool (or one listed by the service), one line per problem. */
function toolProblems(tool: unknown, where: string): string[] {
  if (!isRecord(tool)) return [`${where} is not an object`]
  const problems: string[] = []
  for (const key of Object.keys(tool))
    if (!TOOL_KEYS.has(key)) problems.push(`${where}.${key} is not a tool field`)
  if (typeof tool['name'] !== 'string' || tool['name'] === '')
    problems.push(`${where}.name must be a non-empty string`)
  if (!isRecord(tool['input'])) problems.push(`${where}.input must be a JSON Schema object`)
  if (tool['output'] !== undefined && !isRecord(tool['output']))
    problems.push(`${where}.output must be a JSON Schema object`)
  for (const key of ['title', 'description'] as const) {
    if (tool[key] !== undefined && typeof tool[key] !== 'string')
      problems.push(`${where}.${key} must be a string`)
  }
  if (tool['hints'] !== undefined && !isRecord(tool['hints']))
    problems.push(`${where}.hints must be an object`)
  if (tool['retrySafe'] !== undefined && typeof tool['retrySafe'] !== 'boolean')
    problems.push(`${where}.retrySafe must be a boolean`)
  return problems
}

function checkTarget(target: Record<string, unknown>): string[] {
  const problems: string[] = []
  for (const key of Object.keys(target)) {
    if (!TARGET_KEYS.has(key)) problems.push(`target.${key} is not a field of a ws target (url, tools)`)
  }
  if (wsUrl(target['url']) === undefined) problems.push('target.url must be a ws:// or wss:// URL')
  const tools = target['tools']
  if (tools !== undefined) {
    if (!Array.isArray(tools)) problems.push('target.tools must be a list of tools')
    else for (const [i, tool] of tools.entries()) problems.push(...toolProblems(tool, `target.tools[${i}]`))
  }
  return problems
}

/** A well-formed tool entry as the seam's `UpstreamTool` (only the fields it knows). */
function asTool(entry: Record<string, unknown>): UpstreamTool {
  const tool: UpstreamTool = {
    name: entry['name'] as string,
    input: structuredClone(entry['input'] as Record<string, unknown>),
  }
  if (isRecord(entry['output'])) tool.output = structuredClone(entry['output'])
  if (typeof entry['title'] === 'string') tool.title = entry['title']
  if (typeof entry['description'] === 'string') tool.description = entry['description']
  if (isRecord(entry['hints'])) {
    const hints: ToolHints = {}
    for (const key of HINT_KEYS)
      if (typeof entry['hints'][key] === 'boolean') hints[key] = entry['hints'][key]
    tool.hints = hints
  }
  if (typeof entry['retrySafe'] === 'boolean') tool.retrySafe = entry['retrySafe']
  return tool
}

interface Pending {
  resolve(output: Record<string, unknown>): void
  reject(error: UpstreamError): void
  progress?(update: { progress: number; total?: number; message?: string }): void
}

/** Opens the socket; a refused upgrade (401, 404…) is an error with the HTTP status. */
function connect(url: string, secret: string | undefined, signal: AbortSignal): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, {
      headers: secret === undefined ? {} : { authorization: `Bearer ${secret}` },
      maxPayload: MAX_MESSAGE_BYTES,
      handshakeTimeout: 30_000,
      followRedirects: false,
    })
    const fail = (error: UpstreamError) => {
      signal.removeEventListener('abort', onAbort)
      socket.removeAllListeners()
      socket.on('error', () => {})
      socket.terminate()
      reject(error)
    }
    const onAbort = () => fail(new UpstreamError('opening the WebSocket timed out', { timedOut: true }))
    signal.addEventListener('abort', onAbort, { once: true })
    socket.once('open', () => {
      signal.removeEventListener('abort', onAbort)
      socket.removeAllListeners('error')
      socket.removeAllListeners('unexpected-response')
      // Until the session listens: an 'error' without a listener would throw.
      socket.on('error', () => {})
      resolve(socket)
    })
    socket.once('unexpected-response', (_request, response) => {
      const status = response.statusCode ?? 0
      response.resume()
      // The upgrade was answered, so the request arrived: retrying helps only if the service says so.
      fail(
        new UpstreamError(`the WebSocket upgrade was answered ${status}`, {
          status,
          retryable: status === 429 || status === 503,
        }),
      )
    })
    socket.once('error', (error: Error & { code?: string }) => {
      fail(
        new UpstreamError(`the WebSocket could not be opened (${error.code ?? error.message})`, {
          retryable: true,
        }),
      )
    })
  })
}

export class WsSession implements UpstreamSession {
  readonly #socket: WebSocket
  readonly #declared: UpstreamTool[] | undefined
  readonly #logger: Logger
  readonly #secret: string | undefined
  readonly #pending = new Map<string, Pending>()
  readonly #closedListeners = new Set<(reason: string) => void>()
  readonly #changedListeners = new Set<() => void>()
  readonly #pongs = new Set<() => void>()
  #nextId = 1
  /** Why the socket is closed; undefined while it is open. */
  #closed: string | undefined
  #closing = false

  private constructor(
    socket: WebSocket,
    declared: UpstreamTool[] | undefined,
    logger: Logger,
    secret: string | undefined,
  ) {
    this.#socket = socket
    this.#secret = secret
    this.#declared = declared
    this.#logger = logger
    socket.on('message', (data, isBinary) => this.#receive(data, isBinary))
    socket.on('pong', () => {
      for (const resolve of this.#pongs) resolve()
      this.#pongs.clear()
    })
    socket.on('error', (error) => this.#logger.debug({ err: error.message }, 'ws upstream socket error'))
    socket.on('close', (code, reason) => this.#onClose(code, reason.toString('utf8')))
  }

  static async open(options: OpenOptions): Promise<WsSession> {
    const target = options.target
    const declared = Array.isArray(target['tools'])
      ? (target['tools'] as Record<string, unknown>[]).map(asTool)
      : undefined
    // The opening handshake is the one request a WebSocket session sends over HTTP.
    options.egress(new URL(target['url'] as string), 'GET')
    const socket = await connect(target['url'] as string, options.secret, options.signal)
    return new WsSession(socket, declared, options.logger, options.secret)
  }

  #receive(data: WebSocket.RawData, isBinary: boolean): void {
    if (isBinary) {
      this.#logger.debug('ws upstream sent a binary frame (ignored)')
      return
    }
    let message: unknown
    try {
      message = JSON.parse(data.toString())
    } catch {
      this.#logger.debug('ws upstream sent a message that is not JSON (ignored)')
      return
    }
    if (!isRecord(message)) return
    if (message['type'] === 'tools/changed') {
      for (const listener of this.#changedListeners) listener()
      return
    }
    const pending = typeof message['id'] === 'string' ? this.#pending.get(message['id']) : undefined
    if (pending === undefined) {
      this.#logger.debug({ type: message['type'] }, 'ws upstream answered an unknown id')
      return
    }
    if (message['type'] === 'progress') {
      if (typeof message['progress'] !== 'number') return
      pending.progress?.({
        progress: message['progress'],
        ...(typeof message['total'] === 'number' ? { total: message['total'] } : {}),
        ...(typeof message['message'] === 'string' ? { message: message['message'] } : {}),
      })
    } else if (message['type'] === 'result') {
      if (isRecord(message['output'])) pending.resolve(message['output'])
      else pending.reject(new UpstreamError('the service answered a result whose output is not an object'))
    } else if (message['type'] === 'error') {
      const status = typeof message['status'] === 'number' ? message['status'] : undefined
      let text = typeof message['message'] === 'string' ? message['message'] : 'the service answered an error'
      // A service that repeats the credentials it was sent must not pass them on.
      if (this.#secret) text = text.split(this.#secret).join('[redacted]')
      pending.reject(
        new UpstreamError(text.slice(0, 512), {
          excerpt: text,
          retryable: message['retryable'] === true,
          ...(status === undefined ? {} : { status }),
          ...(typeof message['retryAfterMs'] === 'number' ? { retryAfterMs: message['retryAfterMs'] } : {}),
        }),
      )
    }
  }

  #onClose(code: number, reason: string): void {
    this.#closed = `the WebSocket closed (${code}${reason === '' ? '' : `: ${reason.slice(0, 200)}`})`
    const error = new UpstreamError(`${this.#closed} during the call`)
    for (const pending of [...this.#pending.values()]) pending.reject(error)
    if (this.#closing) return
    for (const listener of this.#closedListeners) listener(this.#closed)
  }

  /** Sends one request and waits for its result; ends it at the timeout or when `signal` aborts. */
  #request(
    message: Record<string, unknown>,
    options: { signal: AbortSignal; timeoutMs: number; progress?: Pending['progress'] },
  ): Promise<Record<string, unknown>> {
    // Nothing was sent: the call may go again once the area has reconnected.
    if (this.#closed !== undefined)
      return Promise.reject(new UpstreamError(`${this.#closed}`, { retryable: true }))
    const id = String(this.#nextId++)
    return new Promise((resolve, reject) => {
      const settle = () => {
        clearTimeout(timer)
        options.signal.removeEventListener('abort', onAbort)
        this.#pending.delete(id)
      }
      const giveUp = (error: UpstreamError) => {
        settle()
        if (this.#closed === undefined) this.#send({ type: 'cancel', id })
        reject(error)
      }
      const timer = setTimeout(
        () => giveUp(new UpstreamError(`${String(message['type'])} timed out`, { timedOut: true })),
        Math.max(1, options.timeoutMs),
      )
      const onAbort = () => {
        const reason: unknown = options.signal.reason
        const timedOut = reason instanceof Error && reason.name === 'TimeoutError'
        giveUp(
          new UpstreamError(timedOut ? `${String(message['type'])} timed out` : 'the call was cancelled', {
            timedOut,
          }),
        )
      }
      if (options.signal.aborted) return onAbort()
      options.signal.addEventListener('abort', onAbort, { once: true })
      this.#pending.set(id, {
        resolve: (output) => {
          settle()
          resolve(output)
        },
        reject: (error) => {
          settle()
          reject(error)
        },
        ...(options.progress ? { progress: options.progress } : {}),
      })
      this.#send({ ...message, id })
    })
  }

  #send(message: Record<string, unknown>): void {
    this.#socket.send(JSON.stringify(message), (error) => {
      if (error) this.#logger.debug({ err: error.message }, 'ws upstream send failed')
    })
  }

  async tools(): Promise<UpstreamTool[]> {
    if (this.#declared !== undefined) return this.#declared.map((t) => structuredClone(t))
    const output = await this.#request(
      { type: 'tools/list' },
      { signal: AbortSignal.timeout(TOOLS_LIST_TIMEOUT_MS), timeoutMs: TOOLS_LIST_TIMEOUT_MS },
    )
    if (!Array.isArray(output['tools']))
      throw new UpstreamError('the service answered tools/list without a tools list')
    const tools: UpstreamTool[] = []
    output['tools'].forEach((entry, i) => {
      const problems = toolProblems(entry, `tools[${i}]`)
      if (problems.length === 0) tools.push(asTool(entry as Record<string, unknown>))
      else this.#logger.warn({ problems }, 'ws upstream listed a malformed tool (skipped)')
    })
    return tools
  }

  call(tool: string, input: Record<string, unknown>, call: UpstreamCall): Promise<Record<string, unknown>> {
    return this.#request(
      { type: 'call', tool, input, ...(call.trace ? { traceparent: formatTraceparent(call.trace) } : {}) },
      { signal: call.signal, timeoutMs: call.timeoutMs, progress: (update) => call.progress(update) },
    )
  }

  ping(signal: AbortSignal): Promise<void> {
    if (this.#closed !== undefined)
      return Promise.reject(new UpstreamError(this.#closed, { retryable: true }))
    return new Promise((resolve, reject) => {
      const onPong = () => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      }
      const onAbort = () => {
        this.#pongs.delete(onPong)
        reject(new UpstreamError('the WebSocket ping was not answered in time', { timedOut: true }))
      }
      if (signal.aborted) return onAbort()
      signal.addEventListener('abort', onAbort, { once: true })
      this.#pongs.add(onPong)
      this.#socket.ping()
    })
  }

  onToolsChanged(listener: () => void): () => void {
    this.#changedListeners.add(listener)
    return () => this.#changedListeners.delete(listener)
  }

  onClosed(listener: (reason: string) => void): () => void {
    this.#closedListeners.add(listener)
    return () => this.#closedListeners.delete(listener)
  }

  async close(): Promise<void> {
    if (this.#closed !== undefined) return
    this.#closing = true
    const closed = new Promise<void>((resolve) => this.#socket.once('close', () => resolve()))
    this.#socket.close(1000, 'closed by the daemon')
    const grace = setTimeout(() => this.#socket.terminate(), CLOSE_GRACE_MS)
    await closed
    clearTimeout(grace)
  }
}

export const wsDriver: ConnectorDriver = {
  kind: 'ws',
  name: 'WebSocket JSON service',
  capabilities: ['tools', 'progress', 'cancel', 'auth:bearer', 'tools-changed'],
  version: '1.0.0',
  checkTarget,
  open: (options) => WsSession.open(options),
}
