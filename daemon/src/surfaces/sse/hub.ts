import type { ServerResponse } from 'node:http'
import type { Journal, JournalRecord } from '@arw/store'

const REPLAY_CHUNK = 256
/** How long a cut subscriber has to read what was already written before its socket is destroyed. */
const CUT_GRACE_MS = 30_000

/** Why a stream could not deliver every event after `last_id` (the `events.gap` payload). */
export type GapInfo =
  | { reason: 'slow_subscriber'; last_id: number; head: number; queued: number }
  | { reason: 'retention'; last_id: number; head: number; queued: 0; oldest: number }

export interface SubscribeOptions {
  /** Deliver events with id > after. */
  after: number
  /** Kind prefixes to keep; empty keeps everything. */
  prefixes: readonly string[]
  /** Journal events in the replay range, reported in the first frame. */
  hello: (info: { after: number; replayFrom: number | null; replayTo: number | null; head: number }) => string
}

/**
 * One SSE subscriber: a cursor over the journal. It replays from the journal, then follows live
 * records. Live records are queued only while the socket is backpressured, and at most `maxQueue`
 * of them: past that the subscriber gets an `events.gap` notice and is closed, so a slow reader can
 * never grow memory without bound; it resumes exactly with Last-Event-ID from the journal.
 */
class Subscriber {
  readonly res: ServerResponse
  readonly prefixes: readonly string[]
  lastSent: number
  /** Live frames waiting for the socket (or for the replay to finish). */
  queue: Array<{ id: number; frame: Buffer }> = []
  replaying = true
  blocked = false
  closed = false

  constructor(res: ServerResponse, after: number, prefixes: readonly string[]) {
    this.res = res
    this.lastSent = after
    this.prefixes = prefixes
  }

  wants(kind: string): boolean {
    if (this.prefixes.length === 0) return true
    for (const p of this.prefixes) if (kind.startsWith(p)) return true
    return false
  }
}

function frameOf(id: number, kind: string, json: string): string {
  return `id: ${id}\nevent: ${kind}\ndata: ${json}\n\n`
}

export class EventHub {
  readonly #journal: Journal
  readonly #subscribers = new Set<Subscriber>()
  readonly #maxQueue: number
  readonly #gapFrame: (info: GapInfo) => string
  #unsubscribe: (() => void) | undefined
  #heartbeat: NodeJS.Timeout | undefined

  constructor(
    journal: Journal,
    options: {
      maxQueue: number
      heartbeatMs: number
      gapFrame: (info: GapInfo) => string
    },
  ) {
    this.#journal = journal
    this.#maxQueue = options.maxQueue
    this.#gapFrame = options.gapFrame
    this.#unsubscribe = journal.subscribe((record) => this.#publish(record))
    this.#heartbeat = setInterval(() => this.#ping(), options.heartbeatMs)
    this.#heartbeat.unref()
  }

  get size(): number {
    return this.#subscribers.size
  }

  /** Serves one stream on `res` (headers not yet sent) until the client or the hub closes it. */
  async serve(res: ServerResponse, options: SubscribeOptions): Promise<void> {
    const head = this.#journal.head
    const after = Math.min(Math.max(0, options.after), head)
    const sub = new Subscriber(res, after, options.prefixes)
    // Subscribe before reading the journal: anything committed from now on is queued, everything
    // before is in the journal up to `head`. Together: no gap, and `lastSent` removes duplicates.
    this.#subscribers.add(sub)
    res.on('close', () => this.#drop(sub))
    res.on('drain', () => {
      sub.blocked = false
      this.#flush(sub)
    })
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    })
    res.write(
      options.hello({
        after,
        replayFrom: head > after ? Math.max(after + 1, Math.min(this.#journal.oldest, head)) : null,
        replayTo: head > after ? head : null,
        head,
      }),
    )
    let cursor = after
    while (!sub.closed && cursor < head) {
      const chunk = await this.#journal.readRaw(cursor, REPLAY_CHUNK, head)
      // Ids are gap-free, so a first id past the cursor means retention removed the ones between
      // (before this stream or while it replays): said once, then the stream goes on from there.
      const next = chunk[0]?.id ?? head + 1
      if (next > cursor + 1)
        res.write(this.#gapFrame({ reason: 'retention', last_id: cursor, head, queued: 0, oldest: next }))
      if (chunk.length === 0) {
        cursor = head
        sub.lastSent = head
        break
      }
      let text = ''
      for (const r of chunk) {
        cursor = r.id
        const kind = kindOf(r.json)
        if (sub.wants(kind)) text += frameOf(r.id, kind, r.json)
      }
      sub.lastSent = cursor
      if (text !== '' && !res.write(text)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done)
            res.off('close', done)
            resolve()
          }
          res.on('drain', done)
          res.on('close', done)
        })
      }
    }
    sub.replaying = false
    sub.blocked = res.writableNeedDrain
    this.#flush(sub)
  }

  #publish(record: JournalRecord): void {
    if (this.#subscribers.size === 0) return
    let frame: Buffer | undefined
    for (const sub of this.#subscribers) {
      if (!sub.wants(record.kind)) continue
      // Serialized once per event, shared by every subscriber.
      frame ??= Buffer.from(frameOf(record.id, record.kind, record.json))
      if (!sub.replaying && !sub.blocked && sub.queue.length === 0) {
        if (record.id <= sub.lastSent) continue
        sub.lastSent = record.id
        if (!sub.res.write(frame)) sub.blocked = true
        continue
      }
      sub.queue.push({ id: record.id, frame })
      if (sub.queue.length > this.#maxQueue) this.#cut(sub)
    }
  }

  #flush(sub: Subscriber): void {
    if (sub.replaying || sub.closed) return
    while (sub.queue.length > 0 && !sub.blocked) {
      const next = sub.queue.shift()!
      if (next.id <= sub.lastSent) continue
      sub.lastSent = next.id
      if (!sub.res.write(next.frame)) sub.blocked = true
    }
  }

  /** The subscriber cannot keep up: tell it where to resume and close the stream. */
  #cut(sub: Subscriber): void {
    const queued = sub.queue.length
    sub.queue = []
    const { res } = sub
    // Node detaches the socket from the response on finish, so keep hold of it now.
    const socket = res.socket
    res.end(
      this.#gapFrame({ reason: 'slow_subscriber', last_id: sub.lastSent, head: this.#journal.head, queued }),
    )
    // Close the connection too (not just the chunked response), once what was written is flushed;
    // a reader that never drains it is dropped after a grace period.
    const grace = setTimeout(() => socket?.destroy(), CUT_GRACE_MS)
    grace.unref()
    res.once('finish', () => {
      clearTimeout(grace)
      socket?.end()
    })
    this.#drop(sub)
  }

  #drop(sub: Subscriber): void {
    sub.closed = true
    sub.queue = []
    this.#subscribers.delete(sub)
  }

  #ping(): void {
    const ping = Buffer.from(`: ping ${Date.now()}\n\n`)
    for (const sub of this.#subscribers) {
      if (!sub.blocked && !sub.replaying) sub.res.write(ping)
    }
  }

  /** Ends every stream (daemon shutdown), so closing the server does not wait on them. */
  close(): void {
    clearInterval(this.#heartbeat)
    this.#unsubscribe?.()
    for (const sub of [...this.#subscribers]) {
      sub.res.end()
      this.#drop(sub)
    }
  }
}

/** The kind of a serialized envelope without parsing all of it. */
function kindOf(json: string): string {
  const at = json.indexOf('"kind":"')
  if (at === -1) return ''
  const start = at + 8
  return json.slice(start, json.indexOf('"', start))
}
