import { createParser, type EventSourceMessage } from 'eventsource-parser'

/** An RFC 7807 problem as the daemon answers it. */
export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  instance?: string
  trace_id?: string
  code: string
  errors?: Array<{ pointer: string; message: string; keyword?: string }>
  [extra: string]: unknown
}

/** The daemon answered with a problem (4xx/5xx). */
export class ArwProblemError extends Error {
  readonly problem: Problem
  constructor(problem: Problem) {
    super(`${problem.code}: ${problem.detail}`)
    this.name = 'ArwProblemError'
    this.problem = problem
  }
  get status(): number {
    return this.problem.status
  }
  get code(): string {
    return this.problem.code
  }
}

/** The daemon could not be reached (refused, reset, DNS, timeout before any answer). */
export class ArwUnreachableError extends Error {
  readonly url: string
  constructor(url: string, cause: unknown) {
    super(`cannot reach the daemon at ${url}: ${describe(cause)}`, { cause })
    this.name = 'ArwUnreachableError'
    this.url = url
  }
}

export interface InvokeResult<O = unknown> {
  output: O
  tool: string
  trace_id: string
  duration_ms: number
}

export interface InvokeOptions {
  idempotencyKey?: string
  traceparent?: string
  taskId?: string
  step?: string
  signal?: AbortSignal
}

export interface ToolSummary {
  id: string
  name: string
  version: string
  title: string
  description: string
  stability: 'stable' | 'experimental' | 'deprecated'
  current: boolean
  risk: 'low' | 'medium' | 'high' | 'critical'
  hints: { readOnly?: boolean; destructive?: boolean; idempotent?: boolean; openWorld?: boolean }
  capabilities: string[]
  errors: string[]
  timeout_ms: number
  /** Present on a deprecated version. */
  deprecation?: { since?: string; sunset?: string; replacement?: string; link?: string }
}

/** One journal event as the SSE stream delivers it. */
export interface ArwEvent {
  /** Journal sequence id (absent on stream notices: events.hello, events.gap). */
  id?: number
  time: string
  kind: string
  version: string
  severity: string
  trace_id?: string
  span_id?: string
  task_id?: string
  actor?: { kind: string; id: string }
  payload: unknown
}

export interface EventsOptions {
  /** Replay the last N events first. */
  replay?: number
  /** Resume after this sequence id. */
  after?: number
  /** Only kinds starting with one of these. */
  prefix?: readonly string[]
  signal?: AbortSignal
  /** Reconnect after the stream ends or breaks, resuming after the last id seen (default false). */
  reconnect?: boolean
  /** Include stream notices (events.hello, events.gap); default true. */
  notices?: boolean
  /**
   * With `reconnect`: called each time the daemon cannot be reached, before waiting `retryInMs`
   * (doubling from 250 ms to 10 s while it stays unreachable, back to 250 ms once it answers).
   */
  onUnreachable?: (error: ArwUnreachableError, retryInMs: number) => void
}

/** Waits between attempts to reach a daemon that does not answer (EventsOptions.onUnreachable). */
export const RECONNECT_BACKOFF = { firstMs: 250, maxMs: 10_000 } as const

export type SpecName = 'openapi.yaml' | 'asyncapi.yaml' | 'mcp-tools.json'

export interface ArwClientOptions {
  /** e.g. http://127.0.0.1:8090 */
  baseUrl: string
  /** Sent as X-ARW-Admin. */
  adminToken?: string
  /** Recorded as the surface of the calls it makes (X-ARW-Surface): `cli` or `debug`; default http. */
  surface?: 'cli' | 'debug'
  /**
   * Sent as `Authorization: Bearer`: for the API keys of the identity area (a daemon without it
   * takes its admin token there too).
   */
  apiKey?: string
  fetch?: typeof fetch
}

/** A small typed client of the daemon's HTTP API and event stream. */
export class ArwClient {
  readonly baseUrl: string
  readonly #token: string | undefined
  readonly #surface: string | undefined
  readonly #apiKey: string | undefined
  readonly #fetch: typeof fetch

  constructor(options: ArwClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '')
    this.#token = options.adminToken
    this.#surface = options.surface
    this.#apiKey = options.apiKey
    this.#fetch = options.fetch ?? fetch
  }

  health(): Promise<{ status: string; [key: string]: unknown }> {
    return this.#json('GET', '/healthz')
  }

  tools(): Promise<ToolSummary[]> {
    return this.#json('GET', '/admin/introspect/tools')
  }

  schema(id: string): Promise<{ id: string; input: unknown; output: unknown; [key: string]: unknown }> {
    return this.#json('GET', `/admin/introspect/schemas/${encodeURIComponent(id)}`)
  }

  invoke<O = unknown>(id: string, input: unknown, options: InvokeOptions = {}): Promise<InvokeResult<O>> {
    const headers: Record<string, string> = {}
    if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey
    if (options.traceparent !== undefined) headers['traceparent'] = options.traceparent
    if (this.#surface !== undefined) headers['x-arw-surface'] = this.#surface
    const body: Record<string, unknown> = { input }
    if (options.taskId !== undefined) body['task_id'] = options.taskId
    if (options.step !== undefined) body['step'] = options.step
    return this.#json('POST', `/tools/${encodeURIComponent(id)}:invoke`, body, headers, options.signal)
  }

  async spec(name: SpecName): Promise<string> {
    const response = await this.#request('GET', `/spec/${name}`)
    return response.text()
  }

  /**
   * The event stream as an async iterator. With `reconnect`, a broken or ended stream is reopened
   * with Last-Event-ID set to the last id seen, so no event is missed or repeated.
   */
  async *events(options: EventsOptions = {}): AsyncGenerator<ArwEvent> {
    let lastId: number | undefined = options.after
    let first = true
    let backoff: number = RECONNECT_BACKOFF.firstMs
    while (true) {
      const query = new URLSearchParams()
      if (first && options.replay !== undefined) query.set('replay', String(options.replay))
      if (lastId !== undefined) query.set('after', String(lastId))
      if (options.prefix?.length) query.set('prefix', options.prefix.join(','))
      const headers: Record<string, string> = { accept: 'text/event-stream' }
      if (lastId !== undefined) headers['last-event-id'] = String(lastId)
      const qs = query.toString()
      let response: Response
      try {
        response = await this.#request(
          'GET',
          `/admin/events${qs ? `?${qs}` : ''}`,
          undefined,
          headers,
          options.signal,
        )
      } catch (error) {
        // Stopped while connecting (Ctrl-C): the caller asked for the end, not a failure.
        if (options.signal?.aborted) return
        if (!options.reconnect || !(error instanceof ArwUnreachableError)) throw error
        options.onUnreachable?.(error, backoff)
        await sleep(backoff, options.signal)
        if (options.signal?.aborted) return
        backoff = Math.min(backoff * 2, RECONNECT_BACKOFF.maxMs)
        continue
      }
      first = false
      backoff = RECONNECT_BACKOFF.firstMs
      try {
        for await (const message of sseMessages(response)) {
          const event = JSON.parse(message.data) as ArwEvent
          if (message.id) {
            event.id = Number(message.id)
            lastId = event.id
          } else if (options.notices === false) continue
          yield event
        }
      } catch (error) {
        if (options.signal?.aborted) return
        if (!options.reconnect) throw new ArwUnreachableError(this.baseUrl, error)
      }
      if (!options.reconnect || options.signal?.aborted) return
      await sleep(200, options.signal)
    }
  }

  async #json<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    signal?: AbortSignal,
  ): Promise<T> {
    const response = await this.#request(method, path, body, headers, signal)
    return (await response.json()) as T
  }

  async #request(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    signal?: AbortSignal,
  ): Promise<Response> {
    const url = this.baseUrl + path
    const all: Record<string, string> = { ...headers }
    if (this.#token !== undefined) all['x-arw-admin'] = this.#token
    if (this.#apiKey !== undefined) all['authorization'] = `Bearer ${this.#apiKey}`
    if (body !== undefined) all['content-type'] = 'application/json'
    let response: Response
    try {
      response = await this.#fetch(url, {
        method,
        headers: all,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(signal ? { signal } : {}),
      })
    } catch (error) {
      if (signal?.aborted) throw error
      throw new ArwUnreachableError(this.baseUrl, error)
    }
    if (response.ok) return response
    const text = await response.text()
    let problem: Problem
    try {
      problem = JSON.parse(text) as Problem
      if (typeof problem.code !== 'string') throw new Error('not a problem')
    } catch {
      problem = {
        type: 'about:blank',
        title: response.statusText || 'HTTP error',
        status: response.status,
        detail: text.slice(0, 500) || `HTTP ${response.status}`,
        code: `http_${response.status}`,
      }
    }
    throw new ArwProblemError(problem)
  }
}

/** Parses an SSE response body into messages (comments and heartbeats are skipped). */
export async function* sseMessages(response: Response): AsyncGenerator<EventSourceMessage> {
  if (!response.body) return
  const queue: EventSourceMessage[] = []
  const parser = createParser({ onEvent: (message) => queue.push(message) })
  const decoder = new TextDecoder()
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    parser.feed(decoder.decode(chunk, { stream: true }))
    while (queue.length > 0) yield queue.shift()!
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        resolve()
      },
      { once: true },
    )
  })
}

/** The most specific reason in an error's cause chain (fetch hides ECONNREFUSED two levels down). */
function describe(error: unknown): string {
  let reason = error instanceof Error ? error.message : String(error)
  let current: unknown = error
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string') return code
    if (current !== error && current.message) reason = current.message
    current = current.cause
  }
  return reason
}
