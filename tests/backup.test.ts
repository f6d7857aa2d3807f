import { join } from 'node:path'
import { startPostgres } from '@arw/store/testing'
import { afterAll, describe, expect, it } from 'vitest'
import { EXIT } from '../daemon/src/cli/io.ts'
import { runArw, Scratch, startChild, waitExit } from './support/child.ts'
import { SseReader } from './support/sse.ts'

const TOKEN = 'backup-test-token-0123456789abcdef'
const admin = { 'x-arw-admin': TOKEN }
const scratch = new Scratch('arw-backup-')
afterAll(() => scratch.clean())

async function invoke(url: string, text: string): Promise<string> {
  const res = await fetch(`${url}/tools/demo.echo:invoke`, {
    method: 'POST',
    headers: { ...admin, 'content-type': 'application/json' },
    body: JSON.stringify({ input: { text } }),
  })
  expect(res.status).toBe(200)
  return ((await res.json()) as { trace_id: string }).trace_id
}

async function journal(url: string): Promise<Array<{ id: number; data: any }>> {
  const head = ((await (await fetch(`${url}/healthz`)).json()) as { journal_head: number }).journal_head
  const sse = await SseReader.open(`${url}/admin/events?after=0`, admin)
  await sse.until(() => (sse.events.at(-1)?.id ?? 0) >= head, 15_000)
  sse.close()
  return sse.events.map((f) => ({ id: f.id!, data: f.data }))
}

describe('arw backup', () => {
  it('copies a running daemon’s store into a directory a daemon restores from, with every acknowledged call', async () => {
    const state = scratch.dir()
    const daemon = await startChild({ ARW_STATE_DIR: state, ARW_ADMIN_TOKEN: TOKEN })
    scratch.keep(daemon)
    const acked: string[] = []
    for (let i = 0; i < 20; i++) acked.push(await invoke(daemon.url, `before ${i}`))

    const target = join(scratch.dir(), 'snapshot')
    const backup = await runArw(['backup', target], { ARW_STATE_DIR: state })
    expect(backup.stderr).toContain(`backed up ${state} to ${target}`)
    expect(backup.code).toBe(EXIT.ok)
    // The daemon kept running beside the copy.
    await invoke(daemon.url, 'after the backup')
    const original = await journal(daemon.url)

    // A second backup into a non-empty directory is refused.
    expect((await runArw(['backup', target], { ARW_STATE_DIR: state })).code).toBe(EXIT.config)

    // Restore: a daemon on the snapshot has every call acknowledged before the backup, no hole.
    const restored = await startChild({ ARW_STATE_DIR: target, ARW_ADMIN_TOKEN: TOKEN })
    scratch.keep(restored)
    const events = await journal(restored.url)
    expect(events.map((e) => e.id)).toEqual(Array.from({ length: events.length }, (_, i) => i + 1))
    const traces = new Set(events.map((e) => e.data.trace_id))
    expect(acked.filter((t) => !traces.has(t))).toEqual([])
    // The copy is the original up to the backup, then the restored daemon's own start.
    const before = events.slice(0, -1)
    expect(before).toEqual(original.slice(0, before.length))
    expect(events.at(-1)!.data.kind).toBe('daemon.started')
    // And the restored store takes new calls.
    await invoke(restored.url, 'after the restore')
    for (const c of [daemon, restored]) {
      c.proc.kill('SIGTERM')
      await waitExit(c.proc)
    }
  }, 120_000)

  it('refuses a PostgreSQL store (exit 4), pointing at pg_dump and the guidance, without the URL', async () => {
    const refused = await runArw(['backup', join(scratch.dir(), 'snapshot')], {
      ARW_STATE_DIR: scratch.dir(),
      ARW_STORE: 'postgres://arw:hunter2-secret@127.0.0.1:1/arw',
    })
    expect(refused.code).toBe(EXIT.config)
    expect(refused.stderr).toContain('ARW_STORE keeps the state in PostgreSQL')
    expect(refused.stderr).toContain('pg_dump -Fc')
    expect(refused.stderr).toContain('pg_restore')
    expect(refused.stderr).toContain('docs/deployment.md, "Backups on PostgreSQL"')
    expect(refused.stderr).not.toContain('hunter2')
  }, 30_000)

  it('pg_dump -Fc of a running daemon’s database restores with pg_restore into one a daemon starts on', async () => {
    const postgres = await startPostgres()
    try {
      const source = postgres.createDatabase('live')
      const daemon = scratch.keep(
        await startChild({ ARW_STATE_DIR: scratch.dir(), ARW_STORE: source, ARW_ADMIN_TOKEN: TOKEN }),
      )
      const acked: string[] = []
      for (let i = 0; i < 20; i++) acked.push(await invoke(daemon.url, `before ${i}`))
      // As docs/deployment.md says: beside the running daemon, while it takes calls.
      const during = Promise.all(Array.from({ length: 20 }, (_, i) => invoke(daemon.url, `during ${i}`)))
      postgres.tool('pg_dump', ['-Fc', '--no-owner', '-d', 'live', '-f', 'arw.dump'])
      await during
      const original = await journal(daemon.url)
      daemon.proc.kill('SIGTERM')
      await waitExit(daemon.proc)

      const target = postgres.createDatabase('restored')
      postgres.tool('pg_restore', ['--no-owner', '-d', 'restored', 'arw.dump'])
      const restored = scratch.keep(
        await startChild({ ARW_STATE_DIR: scratch.dir(), ARW_STORE: target, ARW_ADMIN_TOKEN: TOKEN }),
      )
      const events = await journal(restored.url)
      // A prefix of the original (one snapshot), with every call acknowledged before the dump.
      expect(events.map((e) => e.id)).toEqual(Array.from({ length: events.length }, (_, i) => i + 1))
      const before = events.slice(0, -1)
      expect(before).toEqual(original.slice(0, before.length))
      const traces = new Set(events.map((e) => e.data.trace_id))
      expect(acked.filter((t) => !traces.has(t))).toEqual([])
      expect(events.at(-1)!.data.kind).toBe('daemon.started')
      await invoke(restored.url, 'after the restore')
      restored.proc.kill('SIGTERM')
      await waitExit(restored.proc)
    } finally {
      await postgres.stop()
    }
  }, 180_000)
})
