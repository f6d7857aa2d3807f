import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sseHub } from '../daemon/src/surfaces/sse/state.ts'
import { type TestDaemon, testDaemon } from '../daemon/src/testing/harness.ts'
import { SseReader } from './support/sse.ts'

let d: TestDaemon
let base: string
beforeAll(async () => {
  d = await testDaemon({ config: { sseHeartbeatMs: 100, sseMaxQueue: 64 } })
  base = await d.listen()
})
afterAll(async () => {
  await d.close()
})

async function echo(text: string): Promise<void> {
  const res = await fetch(`${base}/tools/demo.echo:invoke`, {
    method: 'POST',
    headers: { ...d.admin, 'content-type': 'application/json' },
    body: JSON.stringify({ input: { text } }),
  })
  if (res.status !== 200) throw new Error(`invoke failed: ${res.status}`)
}

describe('GET /admin/events', () => {
  it('needs the admin token', async () => {
    const res = await fetch(`${base}/admin/events`)
    expect(res.status).toBe(401)
    await res.body?.cancel()
  })

  it('starts with a hello frame, replays the last N events with their journal ids, then streams live ones', async () => {
    for (let i = 0; i < 5; i++) await echo(`before-${i}`)
    const head = d.app.arw.journal.head
    const sse = await SseReader.open(`${base}/admin/events?replay=3`, d.admin)
    await sse.until(() => sse.events.length >= 3)
    expect(sse.frames[0]).toMatchObject({
      id: undefined,
      event: 'events.hello',
      data: { payload: { after: head - 3, replay_from: head - 2, replay_to: head, replayed: 3, head } },
    })
    expect(sse.events.map((f) => f.id)).toEqual([head - 2, head - 1, head])
    await echo('live-1')
    await sse.until(() => sse.events.length >= 4)
    expect(sse.events[3]).toMatchObject({
      id: head + 1,
      event: 'tool.ran',
      data: { kind: 'tool.ran', payload: { input: { text: 'live-1' } } },
    })
    sse.close()
  })

  it('sends heartbeat comments', async () => {
    const sse = await SseReader.open(`${base}/admin/events`, d.admin)
    await sse.until(() => sse.comments.some((c) => c.startsWith(' ping') || c.startsWith('ping')))
    sse.close()
  })

  it('filters by kind prefix', async () => {
    const sse = await SseReader.open(`${base}/admin/events?replay=1000&prefix=daemon.`, d.admin)
    await sse.until(() => sse.events.length >= 1)
    await echo('not-for-this-stream')
    await new Promise((r) => setTimeout(r, 200))
    expect(sse.events.every((f) => f.event.startsWith('daemon.'))).toBe(true)
    sse.close()
  })

  it('resumes exactly from Last-Event-ID and from ?after while live events keep arriving', async () => {
    for (let i = 0; i < 20; i++) await echo(`seed-${i}`)
    const resumeFrom = d.app.arw.journal.head - 15
    // Keep writing while the resumed streams replay and switch to live.
    let writing = true
    const writer = (async () => {
      let i = 0
      while (writing) await echo(`during-${i++}`)
    })()
    const byHeader = await SseReader.open(`${base}/admin/events`, {
      ...d.admin,
      'last-event-id': String(resumeFrom),
    })
    const byQuery = await SseReader.open(`${base}/admin/events?after=${resumeFrom}`, d.admin)
    await new Promise((r) => setTimeout(r, 300))
    writing = false
    await writer
    const head = d.app.arw.journal.head
    for (const sse of [byHeader, byQuery]) {
      await sse.until(() => (sse.events.at(-1)?.id ?? 0) >= head)
      const ids = sse.events.map((f) => f.id)
      expect(ids).toEqual(Array.from({ length: head - resumeFrom }, (_, i) => resumeFrom + 1 + i))
      sse.close()
    }
  })

  it('cuts a subscriber that cannot keep up with an events.gap notice, and the journal resumes it', async () => {
    // A raw socket that never reads: the server's writes back up until the queue limit trips.
    const net = await import('node:net')
    const port = Number(new URL(base).port)
    const socket = net.connect(port, '127.0.0.1')
    socket.pause()
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
    socket.write(
      `GET /admin/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-ARW-Admin: ${d.admin['x-arw-admin']}\r\n\r\n`,
    )
    await new Promise((r) => setTimeout(r, 100))
    const lastBefore = d.app.arw.journal.head
    const big = 'x'.repeat(60_000)
    expect(sseHub(d.app.arw).size).toBe(1)
    for (let i = 0; i < 5000 && sseHub(d.app.arw).size > 0; i++) await echo(big.slice(0, 4000))
    // The hub dropped the subscriber rather than buffering without bound.
    expect(sseHub(d.app.arw).size).toBe(0)
    socket.resume()
    const text = await new Promise<string>((resolve) => {
      let buf = ''
      socket.on('data', (c) => {
        buf += c.toString()
      })
      // The server closes the connection after the notice.
      socket.on('end', () => resolve(buf))
      socket.on('close', () => resolve(buf))
    })
    const gap = /event: events\.gap\ndata: (.*)\n/.exec(text)
    expect(gap).not.toBeNull()
    const notice = JSON.parse(gap![1]!)
    expect(notice.payload.last_id).toBeGreaterThanOrEqual(lastBefore)
    // Everything after last_id is still in the journal for a resume.
    const rest = await d.app.arw.journal.readRaw(notice.payload.last_id, 10_000)
    expect(rest.length).toBe(d.app.arw.journal.head - notice.payload.last_id)
  })
})
