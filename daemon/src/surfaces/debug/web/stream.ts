/**
 * The debug UI's event stream: `/admin/events` read with fetch and a streaming SSE parser, so the
 * admin token travels in a header (EventSource cannot set one) and never in a URL.
 *
 * It resumes exactly: every reconnect (after a drop, an `events.gap` cut, or a pause) sends
 * Last-Event-ID = the last id seen, and ids are checked to be contiguous (an unfiltered stream
 * carries every journal sequence number), so a hole would be counted in `missing`, never hidden.
 * No browser API beyond fetch and streams is used, so the same code runs under Node in tests.
 */
import { type EventSourceMessage, EventSourceParserStream } from 'eventsource-parser/stream'

export interface StreamEvent {
  id: number
  kind: string
  time: string
  version: string
  severity: string
  trace_id?: string
  payload: unknown
}

export type StreamStatus = 'connecting' | 'open' | 'paused' | 'reconnecting' | 'unauthorized' | 'stopped'

export interface StreamState {
  status: StreamStatus
  /** Last event id received (or the id the stream started after). */
  lastId: number | null
  /** Connections opened after the first one. */
  reconnects: number
  /** `events.gap` notices received (the server cut a slow stream, resumed from lastId; or retention removed old events). */
  gapNotices: number
  /** Ids that never arrived between two received ones (0 when resume is exact). */
  missing: number
  /** Why the stream is not open (HTTP status, problem title), when it is not. */
  message?: string
}

export interface EventStreamOptions {
  /** Origin and prefix of the daemon, '' for the page's own origin. */
  base: string
  token: () => string | undefined
  /** Journal events replayed on the first connection. */
  replay: number
  onEvent: (event: StreamEvent) => void
  onState: (state: StreamState) => void
  fetch?: typeof fetch
  /** Waits before successive reconnect attempts, ms (the last one repeats). */
  retryMs?: readonly number[]
}

const DEFAULT_RETRY_MS = [250, 1000, 2000, 5000]

export class EventStream {
  readonly #options: EventStreamOptions
  readonly #fetch: typeof fetch
  #state: StreamState = { status: 'stopped', lastId: null, reconnects: 0, gapNotices: 0, missing: 0 }
  #controller: AbortController | undefined
  /** Bumped by every start/pause/stop, so an older loop knows to end. */
  #generation = 0
  #connections = 0

  constructor(options: EventStreamOptions) {
    this.#options = options
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init))
  }

  get state(): StreamState {
    return this.#state
  }

  /** Opens the stream (again), resuming after the last id seen. */
  start(): void {
    this.#controller?.abort()
    const generation = ++this.#generation
    void this.#run(generation)
  }

  /** Closes the connection; `start()` resumes exactly where it stopped. */
  pause(): void {
    this.#generation++
    this.#controller?.abort()
    this.#set({ status: 'paused' })
  }

  stop(): void {
    this.#generation++
    this.#controller?.abort()
    this.#set({ status: 'stopped' })
  }

  #set(patch: Partial<StreamState>): void {
    const next: StreamState = { ...this.#state, ...patch }
    if (!('message' in patch)) delete next.message
    this.#state = next
    this.#options.onState(next)
  }

  async #run(generation: number): Promise<void> {
    let attempt = 0
    while (generation === this.#generation) {
      const controller = new AbortController()
      this.#controller = controller
      if (this.#connections > 0) this.#set({ reconnects: this.#state.reconnects + 1, status: 'connecting' })
      else this.#set({ status: 'connecting' })
      this.#connections++
      let failure: string | undefined
      try {
        const headers: Record<string, string> = { accept: 'text/event-stream' }
        const token = this.#options.token()
        if (token) headers['x-arw-admin'] = token
        let url = `${this.#options.base}/admin/events`
        if (this.#state.lastId !== null) headers['last-event-id'] = String(this.#state.lastId)
        else url += `?replay=${this.#options.replay}`
        const response = await this.#fetch(url, { headers, signal: controller.signal })
        if (response.status === 401 || response.status === 403) {
          const problem = (await response.json().catch(() => ({}))) as { title?: string; detail?: string }
          if (generation === this.#generation)
            this.#set({
              status: 'unauthorized',
              message: problem.detail ?? problem.title ?? `HTTP ${response.status}`,
            })
          return
        }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`)
        const reader = response.body
          .pipeThrough(new TextDecoderStream())
          .pipeThrough(new EventSourceParserStream())
          .getReader()
        for (;;) {
          const { done, value } = await reader.read()
          if (done) break
          if (generation !== this.#generation) return
          if (this.#handle(value)) attempt = 0
        }
        failure = 'the stream ended'
      } catch (error) {
        if (generation !== this.#generation) return
        failure = error instanceof Error ? error.message : String(error)
      }
      if (generation !== this.#generation) return
      const retry = this.#options.retryMs ?? DEFAULT_RETRY_MS
      const wait = retry[Math.min(attempt, retry.length - 1)] ?? 1000
      attempt++
      this.#set({ status: 'reconnecting', message: `${failure}; reconnecting in ${wait} ms` })
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }

  /** Handles one frame; true when it proves the connection healthy. */
  #handle(message: EventSourceMessage): boolean {
    let envelope: Record<string, unknown>
    try {
      envelope = JSON.parse(message.data) as Record<string, unknown>
    } catch {
      return false
    }
    const kind = message.event ?? String(envelope['kind'] ?? 'message')
    if (kind === 'events.hello') {
      const after = (envelope['payload'] as { after?: number } | undefined)?.after
      const patch: Partial<StreamState> = { status: 'open' }
      if (this.#state.lastId === null && typeof after === 'number') patch.lastId = after
      this.#set(patch)
      return true
    }
    if (kind === 'events.gap') {
      const gap = envelope['payload'] as { reason?: string; oldest?: number } | undefined
      // Retention removed the ids up to `oldest`: reported, so not counted as missing; the stream goes on.
      if (gap?.reason === 'retention' && typeof gap.oldest === 'number') {
        this.#set({ gapNotices: this.#state.gapNotices + 1, lastId: gap.oldest - 1 })
        return true
      }
      this.#set({ gapNotices: this.#state.gapNotices + 1, status: 'reconnecting' })
      return false
    }
    if (message.id === undefined || !/^\d+$/.test(message.id)) return false
    const id = Number(message.id)
    const last = this.#state.lastId
    if (last !== null && id <= last) return true
    const event: StreamEvent = {
      id,
      kind,
      time: String(envelope['time'] ?? ''),
      version: String(envelope['version'] ?? ''),
      severity: String(envelope['severity'] ?? 'info'),
      payload: envelope['payload'],
    }
    if (typeof envelope['trace_id'] === 'string') event.trace_id = envelope['trace_id']
    const patch: Partial<StreamState> = { lastId: id, status: 'open' }
    if (last !== null && id > last + 1) patch.missing = this.#state.missing + (id - last - 1)
    this.#state = { ...this.#state, ...patch }
    delete this.#state.message
    this.#options.onEvent(event)
    this.#options.onState(this.#state)
    return true
  }
}
