import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type PostgresServer, startPostgres } from '@arw/store/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Child, startChild, waitExit } from './support/child.ts'
import { SseReader } from './support/sse.ts'

const TOKEN = 'crash-test-token'
const headers = { 'x-arw-admin': TOKEN, 'content-type': 'application/json' }
const stateDir = mkdtempSync(join(tmpdir(), 'arw-crash-'))
const children: Child[] = []
let postgres: PostgresServer | undefined

beforeAll(async () => {
  postgres = await startPostgres()
}, 600_000)
afterAll(async () => {
  for (const c of children) c.proc.kill('SIGKILL')
  rmSync(stateDir, { recursive: true, force: true })
  await postgres?.stop()
})

/** Where the daemon keeps its state, per backend (the same for both of its starts). */
const backends = [
  { name: 'lmdb', env: () => ({ ARW_STATE_DIR: stateDir }) },
  {
    name: 'postgres',
    env: () => ({ ARW_STATE_DIR: stateDir, ARW_STORE: postgres!.createDatabase('crash') }),
  },
]

async function readAll(url: string, head: number): Promise<Array<{ id: number; data: any }>> {
  const sse = await SseReader.open(`${url}/admin/events?after=0`, { 'x-arw-admin': TOKEN })
  await sse.until(() => (sse.events.at(-1)?.id ?? 0) >= head, 30_000)
  sse.close()
  return sse.events.map((f) => ({ id: f.id!, data: f.data }))
}

describe.each(backends)('crash safety on $name', (backend) => {
  it('keeps every acknowledged call after SIGKILL, with no hole, and resumes SSE exactly', async () => {
    const env = { ...backend.env(), ARW_ADMIN_TOKEN: TOKEN }
    const first = await startChild(env)
    children.push(first)
    const acked: string[] = []
    let stop = false
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        try {
          const res = await fetch(`${first.url}/tools/demo.echo:invoke`, {
            method: 'POST',
            headers,
            body: JSON.stringify({ input: { text: `w${w}-${i}` } }),
          })
          if (res.status === 200) acked.push(((await res.json()) as { trace_id: string }).trace_id)
        } catch {
          return // connection died with the process
        }
      }
    }
    const workers = Array.from({ length: 24 }, (_, w) => worker(w))
    // Kill mid-burst, once a fair number of calls were acknowledged.
    const deadline = Date.now() + 15_000
    while (acked.length < 300 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
    first.proc.kill('SIGKILL')
    stop = true
    await Promise.all(workers)
    await waitExit(first.proc)
    expect(acked.length).toBeGreaterThanOrEqual(300)

    const second = await startChild(env)
    children.push(second)
    const health = (await (await fetch(`${second.url}/healthz`)).json()) as { journal_head: number }
    const head = health.journal_head
    const events = await readAll(second.url, head)
    // No hole: ids are exactly 1..head.
    expect(events.map((e) => e.id)).toEqual(Array.from({ length: head }, (_, i) => i + 1))
    // Every acknowledged call has its record.
    const recorded = new Set(events.filter((e) => e.data.kind === 'tool.ran').map((e) => e.data.trace_id))
    const missing = acked.filter((t) => !recorded.has(t))
    expect(missing).toEqual([])
    // Two daemon.started events: one per start.
    expect(events.filter((e) => e.data.kind === 'daemon.started')).toHaveLength(2)

    // SSE resume from acknowledged ids replays exactly the rest.
    const byTrace = new Map(events.map((e) => [e.data.trace_id, e.id]))
    const samples = [acked[0]!, acked[Math.floor(acked.length / 2)]!, acked.at(-1)!]
    for (const trace of samples) {
      const id = byTrace.get(trace)!
      const sse = await SseReader.open(`${second.url}/admin/events`, {
        'x-arw-admin': TOKEN,
        'last-event-id': String(id),
      })
      await sse.until(() => (sse.events.at(-1)?.id ?? 0) >= head, 20_000)
      sse.close()
      expect(sse.events.map((f) => f.id)).toEqual(events.filter((e) => e.id > id).map((e) => e.id))
    }
    second.proc.kill('SIGTERM')
    await waitExit(second.proc)
  }, 90_000)
})
