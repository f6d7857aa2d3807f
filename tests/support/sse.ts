import { createParser, type EventSourceMessage } from 'eventsource-parser'

export interface Frame {
  id: number | undefined
  event: string
  data: any
}

/**
 * A minimal SSE reader for tests: opens the stream with fetch and hands out parsed frames, with
 * helpers to wait for a number of frames or a condition. Comments (heartbeats) are counted.
 */
export class SseReader {
  frames: Frame[] = []
  comments: string[] = []
  closed = false
  status = 0
  #waiters: Array<() => void> = []
  #controller = new AbortController()

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const reader = new SseReader()
    const res = await fetch(url, { headers, signal: reader.#controller.signal })
    reader.status = res.status
    if (!res.body) throw new Error('no body')
    const parser = createParser({
      onEvent: (m: EventSourceMessage) => {
        reader.frames.push({
          id: m.id === undefined ? undefined : Number(m.id),
          event: m.event ?? 'message',
          data: JSON.parse(m.data),
        })
        reader.#wake()
      },
      onComment: (c) => {
        reader.comments.push(c)
        reader.#wake()
      },
    })
    const decoder = new TextDecoder()
    void (async () => {
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
          parser.feed(decoder.decode(chunk, { stream: true }))
      } catch {
        // aborted
      } finally {
        reader.closed = true
        reader.#wake()
      }
    })()
    return reader
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w()
  }

  /** Frames that carry a journal id (events, not hello/gap notices). */
  get events(): Frame[] {
    return this.frames.filter((f) => f.id !== undefined)
  }

  async until(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!predicate()) {
      if (this.closed) throw new Error('stream closed before the condition held')
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out; have ${this.frames.length} frames`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.#waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  close(): void {
    this.#controller.abort()
  }
}
