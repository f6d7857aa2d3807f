import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Journal, type JournalRecord } from './journal.ts'
import { Store } from './store.ts'

const dirs: string[] = []
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'arw-journal-'))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const draft = (n: number, extra: Record<string, unknown> = {}) => ({
  kind: 'test.event',
  version: '1.0.0',
  severity: 'info' as const,
  payload: { n },
  ...extra,
})

describe('Journal', () => {
  it('assigns strictly increasing ids without holes, even for concurrent appends', async () => {
    const store = Store.open({ dir: tempDir() })
    const journal = new Journal(store)
    const records = await Promise.all(Array.from({ length: 500 }, (_, i) => journal.append(draft(i))))
    expect(records.map((r) => r.id)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1))
    expect(journal.head).toBe(500)
    const read = journal.read(0, 1000)
    expect(read.map((e) => e.id)).toEqual(records.map((r) => r.id))
    expect(read.map((e) => (e.payload as { n: number }).n)).toEqual(Array.from({ length: 500 }, (_, i) => i))
    await store.close()
  })

  it('publishes to listeners in sequence order, only after the record is durable', async () => {
    const store = Store.open({ dir: tempDir() })
    const journal = new Journal(store)
    const seen: JournalRecord[] = []
    journal.subscribe((record) => {
      // Durable means readable from the store at the time the listener runs.
      expect(journal.get(record.id)?.id).toBe(record.id)
      seen.push(record)
    })
    await Promise.all(Array.from({ length: 200 }, (_, i) => journal.append(draft(i))))
    expect(seen.map((r) => r.id)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1))
    await store.close()
  })

  it('continues the sequence after a reopen', async () => {
    const dir = tempDir()
    let store = Store.open({ dir })
    let journal = new Journal(store)
    await journal.append(draft(1))
    await journal.append(draft(2))
    await store.close()
    store = Store.open({ dir })
    journal = new Journal(store)
    expect(journal.head).toBe(2)
    const next = await journal.append(draft(3))
    expect(next.id).toBe(3)
    expect(journal.readRaw(1, 10).map((r) => r.id)).toEqual([2, 3])
    await store.close()
  })

  it('reads ranges bounded by after, limit and upTo', async () => {
    const store = Store.open({ dir: tempDir() })
    const journal = new Journal(store)
    for (let i = 0; i < 10; i++) await journal.append(draft(i))
    expect(journal.readRaw(3, 4).map((r) => r.id)).toEqual([4, 5, 6, 7])
    expect(journal.readRaw(3, 100, 5).map((r) => r.id)).toEqual([4, 5])
    expect(journal.readRaw(10, 100)).toEqual([])
    await store.close()
  })

  it('indexes events by trace and by task', async () => {
    const store = Store.open({ dir: tempDir() })
    const journal = new Journal(store)
    await journal.append(draft(1, { trace_id: 'a'.repeat(32), task_id: 'job-1' }))
    await journal.append(draft(2, { trace_id: 'b'.repeat(32), task_id: 'job-1' }))
    await journal.append(draft(3, { trace_id: 'a'.repeat(32) }))
    expect(journal.byTrace('a'.repeat(32)).map((e) => e.id)).toEqual([1, 3])
    expect(journal.byTask('job-1').map((e) => e.id)).toEqual([1, 2])
    expect(journal.byTask('nope')).toEqual([])
    await store.close()
  })

  it('waits for the disk flush in fsync mode and still orders records', async () => {
    const store = Store.open({ dir: tempDir(), durability: 'fsync' })
    const journal = new Journal(store)
    const records = await Promise.all(Array.from({ length: 20 }, (_, i) => journal.append(draft(i))))
    expect(records.map((r) => r.id)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
    await store.close()
  })
})

describe('Store collections', () => {
  it('puts, gets, ranges by prefix and updates atomically', async () => {
    const store = Store.open({ dir: tempDir() })
    const c = store.collection<{ v: number }>('things')
    await c.put('a:1', { v: 1 })
    await c.put('a:2', { v: 2 })
    await c.put('b:1', { v: 3 })
    expect(c.get('a:1')).toEqual({ v: 1 })
    expect(c.range('a:').map((e) => e.key)).toEqual(['a:1', 'a:2'])
    await Promise.all(
      Array.from({ length: 50 }, () => c.update('counter', (cur) => ({ v: (cur?.v ?? 0) + 1 }))),
    )
    expect(c.get('counter')).toEqual({ v: 50 })
    await c.remove('a:1')
    expect(c.get('a:1')).toBeUndefined()
    await store.close()
  })
})
