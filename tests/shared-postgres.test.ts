import { type PostgresServer, startPostgres } from '@arw/store/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Scratch, startChild, waitExit } from './support/child.ts'
import { SseReader } from './support/sse.ts'

const TOKEN = 'shared-postgres-test-token-0123'
const admin = { 'x-arw-admin': TOKEN }
const scratch = new Scratch('arw-shared-pg-')
let postgres: PostgresServer | undefined

beforeAll(async () => {
  postgres = await startPostgres()
}, 600_000)
afterAll(async () => {
  scratch.clean()
  await postgres?.stop()
})

async function invoke(url: string, text: string): Promise<string | undefined> {
  const res = await fetch(`${url}/tools/demo.echo:invoke`, {
    method: 'POST',
    headers: { ...admin, 'content-type': 'application/json' },
    body: JSON.stringify({ input: { text } }),
  })
  return res.status === 200 ? ((await res.json()) as { trace_id: string }).trace_id : undefined
}

describe('several daemons on one PostgreSQL database', () => {
  it('keeps every acknowledged call of both, with journal ids gap-free and in commit order', async () => {
    const database = postgres!.createDatabase(`shared_${process.pid}`)
    // Each daemon has its own state directory (its lock, its local token); the database is shared.
    const daemons = [
      scratch.keep(
        await startChild({ ARW_STATE_DIR: scratch.dir(), ARW_STORE: database, ARW_ADMIN_TOKEN: TOKEN }),
      ),
      scratch.keep(
        await startChild({ ARW_STATE_DIR: scratch.dir(), ARW_STORE: database, ARW_ADMIN_TOKEN: TOKEN }),
      ),
    ]
    // Rounds of concurrent calls across both; a round starts once the one before is acknowledged.
    const rounds: string[][] = []
    for (let round = 0; round < 8; round++) {
      const calls = Array.from({ length: 24 }, (_, i) => invoke(daemons[i % 2]!.url, `r${round}-${i}`))
      const acked = (await Promise.all(calls)).filter((t): t is string => t !== undefined)
      expect(acked).toHaveLength(24)
      rounds.push(acked)
    }
    for (const d of daemons) d.proc.kill('SIGTERM')
    await Promise.all(daemons.map((d) => waitExit(d.proc)))

    // A third daemon on the database sees the whole journal.
    const reader = scratch.keep(
      await startChild({ ARW_STATE_DIR: scratch.dir(), ARW_STORE: database, ARW_ADMIN_TOKEN: TOKEN }),
    )
    const head = ((await (await fetch(`${reader.url}/healthz`)).json()) as { journal_head: number })
      .journal_head
    const sse = await SseReader.open(`${reader.url}/admin/events?after=0`, admin)
    await sse.until(() => (sse.events.at(-1)?.id ?? 0) >= head, 20_000)
    sse.close()
    const ids = sse.events.map((f) => f.id!)
    expect(ids).toEqual(Array.from({ length: head }, (_, i) => i + 1))
    // Each daemon started and stopped once; the reader started.
    expect(sse.events.filter((f) => f.data.kind === 'daemon.started')).toHaveLength(3)
    expect(sse.events.filter((f) => f.data.kind === 'daemon.stopped')).toHaveLength(2)
    const idOf = new Map(
      sse.events.filter((f) => f.data.kind === 'tool.ran').map((f) => [f.data.trace_id, f.id!]),
    )
    expect(rounds.flat().filter((t) => !idOf.has(t))).toEqual([])
    // Commit order: every call acknowledged before a round began has a smaller id than the round's.
    for (let r = 1; r < rounds.length; r++) {
      const before = Math.max(...rounds[r - 1]!.map((t) => idOf.get(t)!))
      const after = Math.min(...rounds[r]!.map((t) => idOf.get(t)!))
      expect(after).toBeGreaterThan(before)
    }
    // Three processes wrote it.
    const pids = new Set(
      sse.events.filter((f) => f.data.kind === 'daemon.started').map((f) => f.data.payload.pid as number),
    )
    expect(pids.size).toBe(3)
    reader.proc.kill('SIGTERM')
    await waitExit(reader.proc)
  }, 120_000)
})
