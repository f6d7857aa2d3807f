import { type PostgresServer, startPostgres } from '@arw/store/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Scratch, startChild, waitExit } from './support/child.ts'
import { SseReader } from './support/sse.ts'

const TOKEN = 'retention-test-token-0123456789'
const admin = { 'x-arw-admin': TOKEN }
const scratch = new Scratch('arw-retention-')
let postgres: PostgresServer | undefined

beforeAll(async () => {
  postgres = await startPostgres()
}, 600_000)
afterAll(async () => {
  scratch.clean()
  await postgres?.stop()
})

const backends = [
  { name: 'lmdb', env: () => ({ ARW_STATE_DIR: scratch.dir() }) },
  {
    name: 'postgres',
    env: () => ({
      ARW_STATE_DIR: scratch.dir(),
      ARW_STORE: postgres!.createDatabase(`retention_${process.pid}`),
    }),
  },
]

async function invoke(url: string, text: string): Promise<string> {
  const res = await fetch(`${url}/tools/demo.echo:invoke`, {
    method: 'POST',
    headers: { ...admin, 'content-type': 'application/json' },
    body: JSON.stringify({ input: { text } }),
  })
  expect(res.status).toBe(200)
  return ((await res.json()) as { trace_id: string }).trace_id
}

async function stats(url: string): Promise<{ head: number; oldest: number }> {
  const res = await fetch(`${url}/admin/introspect/stats`, { headers: admin })
  return ((await res.json()) as { events: { head: number; oldest: number } }).events
}

describe.each(backends)('journal retention on $name', (backend) => {
  it('answers a resume from a removed id with the gap notice, then every kept and live event exactly', async () => {
    const env = { ...backend.env(), ARW_ADMIN_TOKEN: TOKEN }
    // A journal written without retention: 300 calls of about 2 KB each.
    const first = scratch.keep(await startChild(env))
    const text = 'x'.repeat(2000)
    for (let round = 0; round < 30; round++)
      await Promise.all(Array.from({ length: 10 }, (_, i) => invoke(first.url, `${round}-${i}-${text}`)))
    first.proc.kill('SIGTERM')
    await waitExit(first.proc)

    // Restarted with a size budget: the start pass removes the oldest records in the background.
    const second = scratch.keep(
      await startChild({ ...env, ARW_JOURNAL_RETENTION: '256KB', ARW_LOG_LEVEL: 'info' }),
    )
    let events = await stats(second.url)
    for (let i = 0; i < 200 && events.oldest === 1; i++) {
      await new Promise((r) => setTimeout(r, 50))
      events = await stats(second.url)
    }
    const { oldest, head } = events
    expect(oldest).toBeGreaterThan(100)
    expect(oldest).toBeLessThan(head)
    // The operator sees it in the log.
    const logged = () => second.output().includes('journal retention removed old records')
    for (let i = 0; i < 100 && !logged(); i++) await new Promise((r) => setTimeout(r, 20))
    expect(second.output()).toMatch(new RegExp(`"removed":${oldest - 1},"oldest":${oldest}`))

    for (const resume of [
      { url: `${second.url}/admin/events`, headers: { ...admin, 'last-event-id': '5' } },
      { url: `${second.url}/admin/events?after=5`, headers: admin },
    ]) {
      const sse = await SseReader.open(resume.url, resume.headers)
      await sse.until(() => (sse.events.at(-1)?.id ?? 0) >= head, 20_000)
      // Live calls made now follow on the same stream, without a hole.
      const traces = [await invoke(second.url, 'live-1'), await invoke(second.url, 'live-2')]
      await sse.until(() => traces.every((t) => sse.events.some((f) => f.data.trace_id === t)), 20_000)
      sse.close()
      const notices = sse.frames.filter((f) => f.id === undefined).map((f) => f.data)
      expect(notices.map((n) => n.kind)).toEqual(['events.hello', 'events.gap'])
      expect(notices[0].payload).toMatchObject({ after: 5, replay_from: oldest })
      expect(notices[1]).toMatchObject({
        kind: 'events.gap',
        payload: { reason: 'retention', last_id: 5, oldest },
      })
      const ids = sse.events.map((f) => f.id!)
      expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => oldest + i))
      expect(ids.at(-1)).toBeGreaterThan(head)
    }

    // A resume from a kept id has no gap notice.
    const kept = await SseReader.open(`${second.url}/admin/events`, {
      ...admin,
      'last-event-id': String(oldest),
    })
    await kept.until(() => (kept.events.at(-1)?.id ?? 0) >= head, 20_000)
    kept.close()
    expect(kept.frames.filter((f) => f.data.kind === 'events.gap')).toEqual([])
    expect(kept.events[0]?.id).toBe(oldest + 1)
    second.proc.kill('SIGTERM')
    await waitExit(second.proc)
  }, 120_000)
})
