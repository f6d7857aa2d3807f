import { randomBytes } from 'node:crypto'
import type { ServerResponse } from 'node:http'

/** How long a client may wait before resuming a closed POST stream (the SSE `retry` field), ms. */
export const RETRY_MS = 1000
/** How long a finished, resumable stream keeps its events for a late resume, ms. */
const KEEP_FINISHED_MS = 60_000
const MAX_STREAMS = 10_000

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
}

export function sseFrame(message: object, id?: string): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: message\ndata: ${JSON.stringify(message)}\n\n`
}

/**
 * The SSE stream answering one POST. When resumable (a 2025-11-25+ session), every event carries
 * an id `<stream>_<n>` and is kept until the stream is finished and a grace period has passed, so
 * a client whose connection dropped, or that the server disconnected on purpose (SEP-1699), GETs
 * /mcp with Last-Event-ID and receives exactly the events it missed, then the rest live.
 * Per process: a resume that reaches another replica finds nothing and the client retries the call.
 */
export class PostStream {
  readonly id: string
  readonly session: string | undefined
  readonly resumable: boolean
  #seq = 0
  #frames: string[] = []
  #res: ServerResponse | undefined
  #finished = false
  /** Called with the connection a finished stream leaves open (a resume GET), if any. */
  onRelease: ((res: ServerResponse) => void) | undefined

  constructor(res: ServerResponse, session: string | undefined, resumable: boolean) {
    this.id = randomBytes(9).toString('base64url')
    this.session = session
    this.resumable = resumable
    this.#res = res
  }

  get finished(): boolean {
    return this.#finished
  }

  /** The priming event: an id and empty data, plus the retry interval, before anything else. */
  prime(): void {
    if (!this.resumable) return
    this.#write(`id: ${this.id}_0\nretry: ${RETRY_MS}\ndata: \n\n`, false)
  }

  send(message: object): void {
    if (this.#finished) return
    const frame = sseFrame(message, this.resumable ? `${this.id}_${++this.#seq}` : undefined)
    this.#write(frame, this.resumable)
  }

  /** Sends the last message (the response) and ends the stream. */
  finish(message: object | undefined): void {
    if (this.#finished) return
    if (message) this.send(message)
    this.#finished = true
    const res = this.#res
    this.#res = undefined
    if (!res) return
    if (this.onRelease) this.onRelease(res)
    else res.end()
  }

  /** Ends the connection while the call goes on; the events keep accumulating for a resume. */
  detach(): void {
    const res = this.#res
    this.#res = undefined
    res?.end()
  }

  /** Continues on a new connection after event `<stream>_<after>`: missed events first, then live. */
  attach(res: ServerResponse, after: number, onRelease: (res: ServerResponse) => void): void {
    this.#res?.end()
    res.write(this.#frames.slice(Math.max(0, after)).join(''))
    if (this.#finished) {
      onRelease(res)
      return
    }
    this.#res = res
    this.onRelease = onRelease
    res.once('close', () => {
      if (this.#res === res) this.#res = undefined
    })
  }

  #write(frame: string, keep: boolean): void {
    if (keep) this.#frames.push(frame)
    this.#res?.write(frame)
  }
}

/** Resumable POST streams of this process, by stream id. */
export class StreamRegistry {
  readonly #streams = new Map<string, PostStream>()

  add(stream: PostStream): void {
    if (!stream.resumable) return
    if (this.#streams.size >= MAX_STREAMS) this.#streams.delete(this.#streams.keys().next().value!)
    this.#streams.set(stream.id, stream)
  }

  /** Forgets a finished stream after the grace period. */
  retire(stream: PostStream): void {
    if (!stream.resumable) return
    setTimeout(() => this.#streams.delete(stream.id), KEEP_FINISHED_MS).unref()
  }

  /** The stream a Last-Event-ID points into, with the sequence number to continue after. */
  find(lastEventId: string, session: string): { stream: PostStream; after: number } | undefined {
    const sep = lastEventId.lastIndexOf('_')
    if (sep <= 0) return undefined
    const stream = this.#streams.get(lastEventId.slice(0, sep))
    const after = Number(lastEventId.slice(sep + 1))
    if (!stream || stream.session !== session || !Number.isInteger(after) || after < 0) return undefined
    return { stream, after }
  }
}
