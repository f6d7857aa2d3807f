import { describe, expect, it } from 'vitest'
import { EventStream, type StreamEvent, type StreamState } from './stream.ts'

function frame(id: number, kind = 'tool.ran'): string {
  return `id: ${id}\nevent: ${kind}\ndata: ${JSON.stringify({ time: '2025-01-01T00:00:00Z', kind, version: '1.0.0', severity: 'info', trace_id: 'a'.repeat(32), payload: { n: id } })}\n\n`
}
const hello = (after: number) =>
  `event: events.hello\ndata: ${JSON.stringify({ kind: 'events.hello', payload: { after } })}\n\n`
const gap = (last: number) =>
  `event: events.gap\ndata: ${JSON.stringify({ kind: 'events.gap', severity: 'warning', payload: { last_id: last } })}\n\n`

/** One scripted answer: an SSE body that ends (the server closed it) or stays open. */
type Script = string | { text: string; open: true }

/** A fetch that answers each call with the next scripted SSE body (the last one stays open). */
function scripted(bodies: Script[]) {
  const calls: Array<{ url: string; headers: Record<string, string> }> = []
  const fetcher = (async (url: string | URL | Request, init?: RequestInit) => {
    const i = calls.length
    calls.push({ url: String(url), headers: { ...(init?.headers as Record<string, string>) } })
    const script = bodies[i] ?? ''
    const text = typeof script === 'string' ? script : script.text
    const last = i >= bodies.length - 1 || typeof script !== 'string'
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(text))
        if (!last) controller.close()
        init?.signal?.addEventListener('abort', () => controller.error(new Error('aborted')))
      },
    })
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } })
  }) as typeof fetch
  return { fetcher, calls }
}

function run(bodies: Script[]) {
  const { fetcher, calls } = scripted(bodies)
  const events: StreamEvent[] = []
  let state: StreamState | undefined
  const stream = new EventStream({
    base: 'http://daemon',
    token: () => 'tok',
    replay: 10,
    onEvent: (e) => events.push(e),
    onState: (s) => {
      state = s
    },
    fetch: fetcher,
    retryMs: [1],
  })
  stream.start()
  return { stream, events, calls, state: () => state! }
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5))
  expect(check()).toBe(true)
}

describe('EventStream', () => {
  it('sends the token in a header, replays first, and resumes after a gap notice from the last id', async () => {
    const s = run([hello(0) + frame(1) + frame(2) + gap(2), hello(2) + frame(3) + frame(4)])
    await until(() => s.events.length === 4)
    s.stream.stop()
    expect(s.events.map((e) => e.id)).toEqual([1, 2, 3, 4])
    expect(s.calls[0]!.url).toBe('http://daemon/admin/events?replay=10')
    expect(s.calls[0]!.headers['x-arw-admin']).toBe('tok')
    expect(s.calls[0]!.headers['last-event-id']).toBeUndefined()
    expect(s.calls[1]!.url).toBe('http://daemon/admin/events')
    expect(s.calls[1]!.headers['last-event-id']).toBe('2')
    for (const c of s.calls) expect(c.url).not.toContain('tok')
    expect(s.state()).toMatchObject({ gapNotices: 1, missing: 0, reconnects: 1, lastId: 4 })
    expect(s.events[0]).toMatchObject({ kind: 'tool.ran', trace_id: 'a'.repeat(32), payload: { n: 1 } })
  })

  it('takes a retention gap as reported, not missing: the same stream goes on from the oldest id kept', async () => {
    const removed = `event: events.gap\ndata: ${JSON.stringify({ kind: 'events.gap', payload: { reason: 'retention', last_id: 0, head: 9, queued: 0, oldest: 7 } })}\n\n`
    const s = run([{ text: hello(0) + removed + frame(7) + frame(8) + frame(9), open: true }])
    await until(() => s.events.length === 3)
    s.stream.stop()
    expect(s.events.map((e) => e.id)).toEqual([7, 8, 9])
    expect(s.calls).toHaveLength(1)
    expect(s.state()).toMatchObject({ gapNotices: 1, missing: 0, reconnects: 0, lastId: 9 })
  })

  it('counts ids that never arrived, and drops repeats', async () => {
    const s = run([hello(0) + frame(1) + frame(2), hello(2) + frame(2) + frame(5)])
    await until(() => s.events.length === 3)
    s.stream.stop()
    expect(s.events.map((e) => e.id)).toEqual([1, 2, 5])
    expect(s.state()).toMatchObject({ missing: 2, lastId: 5 })
  })

  it('pauses and resumes from the last id seen', async () => {
    const s = run([
      { text: hello(6) + frame(7), open: true },
      { text: hello(7) + frame(8), open: true },
    ])
    await until(() => s.events.length === 1)
    s.stream.pause()
    expect(s.state().status).toBe('paused')
    s.stream.start()
    await until(() => s.events.length === 2)
    s.stream.stop()
    expect(s.calls.at(-1)!.headers['last-event-id']).toBe('7')
    expect(s.state()).toMatchObject({ missing: 0, lastId: 8 })
  })
})
