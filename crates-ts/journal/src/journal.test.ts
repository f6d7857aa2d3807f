import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
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

  it('stores a burst of appends as one value and reads any record of it, also after a reopen', async () => {
    const dir = tempDir()
    let store = Store.open({ dir })
    let journal = new Journal(store)
    // One turn: ids 1-10 in one batch. Then one more turn: ids 11-13.
    await Promise.all(Array.from({ length: 10 }, (_, i) => journal.append(draft(i))))
    await Promise.all(Array.from({ length: 3 }, (_, i) => journal.append(draft(10 + i))))
    const raw = store.database<string>('journal', { encoding: 'string' })
    expect([...raw.getKeys({})]).toEqual([1, 11])
    expect(journal.readRaw(4, 3).map((r) => r.id)).toEqual([5, 6, 7])
    expect(journal.readRaw(8, 100).map((r) => r.id)).toEqual([9, 10, 11, 12, 13])
    expect(journal.readRaw(3, 100, 11).map((r) => r.id)).toEqual([4, 5, 6, 7, 8, 9, 10, 11])
    expect(journal.get(7)).toMatchObject({ id: 7, payload: { n: 6 } })
    expect(journal.get(14)).toBeUndefined()
    await store.close()
    store = Store.open({ dir })
    journal = new Journal(store)
    expect(journal.head).toBe(13)
    expect((await journal.append(draft(13))).id).toBe(14)
    expect(journal.read(12, 10).map((e) => (e.payload as { n: number }).n)).toEqual([12, 13])
    await store.close()
  })

  it('reads journals written one record per key', async () => {
    const dir = tempDir()
    let store = Store.open({ dir })
    const raw = store.database<string>('journal', { encoding: 'string' })
    for (let id = 1; id <= 3; id++) {
      const event = { id, time: new Date().toISOString(), ...draft(id) }
      await raw.put(id, JSON.stringify(event))
    }
    await store.close()
    store = Store.open({ dir })
    const journal = new Journal(store)
    expect(journal.head).toBe(3)
    expect(journal.read(1, 10).map((e) => e.id)).toEqual([2, 3])
    expect((await journal.append(draft(4))).id).toBe(4)
    expect(journal.readRaw(0, 10).map((r) => r.id)).toEqual([1, 2, 3, 4])
    await store.close()
  })

  it('commits collection writes with a record, and fails the append when such a write fails', async () => {
    const store = Store.open({ dir: tempDir() })
    const journal = new Journal(store)
    const answers = store.collection<{ n: number }>('answers')
    const record = await journal.append(draft(1), [{ collection: answers, key: 'k', value: { n: 1 } }])
    expect(answers.get('k')).toEqual({ n: 1 })
    expect(journal.get(record.id)?.id).toBe(record.id)
    await journal.append(draft(2), [{ collection: answers, key: 'k', value: undefined }])
    expect(answers.get('k')).toBeUndefined()
    const full = { ...answers, stage: () => Promise.reject(new Error('answer store is full')) }
    await expect(journal.append(draft(3), [{ collection: full, key: 'k', value: { n: 2 } }])).rejects.toThrow(
      'answer store is full',
    )
    const broken = {
      ...answers,
      stage: () => {
        throw new Error('no answer store')
      },
    }
    await expect(
      journal.append(draft(4), [{ collection: broken, key: 'k', value: { n: 3 } }]),
    ).rejects.toThrow('no answer store')
    // A payload JSON cannot hold is refused without taking a sequence id.
    expect(() => journal.append(draft(5, { payload: { n: 10n } }))).toThrow()
    expect((await journal.append(draft(6))).id).toBe(5)
    await store.close()
  })

  it('gives the ids of a failed commit back, so the sequence keeps no hole', async () => {
    const dir = tempDir()
    let store = Store.open({ dir })
    let journal = new Journal(store)
    const seen: number[] = []
    journal.subscribe((record) => seen.push(record.id))
    expect((await journal.append(draft(1))).id).toBe(1)
    // The store refuses the next transaction (as on a full disk), a moment later.
    const lmdb = Object.getPrototypeOf(store.database('journal', { encoding: 'string' }))
    const failing = vi
      .spyOn(lmdb, 'batch')
      .mockImplementationOnce(
        () => new Promise((_, reject) => setTimeout(() => reject(new Error('MDB_MAP_FULL')), 20)),
      )
    const failed = [journal.append(draft(2)), journal.append(draft(3))]
    await new Promise((resolve) => setImmediate(resolve))
    expect(failing).toHaveBeenCalledTimes(1)
    // Appended while that commit is in flight: waits for it, and is refused with it.
    const waiting = journal.append(draft(4))
    const outcomes = await Promise.allSettled([...failed, waiting])
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected'])
    expect(String((outcomes[0] as PromiseRejectedResult).reason)).toContain('MDB_MAP_FULL')
    expect(String((outcomes[2] as PromiseRejectedResult).reason)).toContain('earlier batch')
    failing.mockRestore()
    // The store accepts writes again: the sequence continues where the failed commit began.
    expect((await journal.append(draft(5))).id).toBe(2)
    expect((await journal.append(draft(6))).id).toBe(3)
    expect(journal.read(0, 10).map((e) => [e.id, (e.payload as { n: number }).n])).toEqual([
      [1, 1],
      [2, 5],
      [3, 6],
    ])
    expect(seen).toEqual([1, 2, 3])
    await journal.close()
    await store.close()
    store = Store.open({ dir })
    journal = new Journal(store)
    expect(journal.head).toBe(3)
    expect((await journal.append(draft(7))).id).toBe(4)
    await store.close()
  })

  it('commits one batch at a time: calls arriving during a commit join the next batch', async () => {
    const store = Store.open({ dir: tempDir() })
    const journal = new Journal(store)
    const lmdb = Object.getPrototypeOf(store.database('journal', { encoding: 'string' }))
    const real = lmdb.batch
    // The first commit takes 30 ms (a slow disk).
    const batch = vi.spyOn(lmdb, 'batch').mockImplementationOnce(function (
      this: unknown,
      ...args: unknown[]
    ) {
      return new Promise((resolve) => setTimeout(resolve, 30)).then(() => real.apply(this, args))
    })
    const first = journal.append(draft(1))
    await new Promise((resolve) => setImmediate(resolve))
    const later: Promise<JournalRecord>[] = []
    for (let turn = 0; turn < 3; turn++) {
      later.push(journal.append(draft(2 + turn)))
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(batch).toHaveBeenCalledTimes(1)
    const ids = (await Promise.all([first, ...later])).map((r) => r.id)
    expect(ids).toEqual([1, 2, 3, 4])
    // The three turns during the slow commit were written together, after it.
    expect(batch).toHaveBeenCalledTimes(2)
    expect(journal.read(0, 10).map((e) => e.id)).toEqual([1, 2, 3, 4])
    batch.mockRestore()
    await store.close()
  })

  it('writes the batch still filling when it closes', async () => {
    const dir = tempDir()
    let store = Store.open({ dir })
    let journal = new Journal(store)
    const pending = journal.append(draft(1))
    await journal.close()
    await store.close()
    expect((await pending).id).toBe(1)
    store = Store.open({ dir })
    journal = new Journal(store)
    expect(journal.read(0, 10).map((e) => e.id)).toEqual([1])
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
    await journal.close()
    await store.close()
  })

  it('finds events by trace and task across index segments, newest segment still open', async () => {
    const store = Store.open({ dir: tempDir() })
    const journal = new Journal(store, { indexSegmentSize: 8 })
    const traces = ['a', 'b', 'c'].map((c) => c.repeat(32))
    for (let i = 0; i < 45; i++) {
      await journal.append(
        draft(i, { trace_id: traces[i % 3], ...(i % 10 === 0 ? { task_id: 'tens' } : {}) }),
      )
    }
    const expected = (r: number) =>
      Array.from({ length: 45 }, (_, i) => i + 1).filter((id) => (id - 1) % 3 === r)
    expect(journal.byTrace(traces[0]!).map((e) => e.id)).toEqual(expected(0))
    expect(journal.byTrace(traces[2]!).map((e) => e.id)).toEqual(expected(2))
    expect(journal.byTrace(traces[1]!, 4).map((e) => e.id)).toEqual(expected(1).slice(0, 4))
    expect(journal.byTask('tens').map((e) => e.id)).toEqual([1, 11, 21, 31, 41])
    expect(journal.byTrace('d'.repeat(32))).toEqual([])
    await journal.close()
    await store.close()
  })

  it('rebuilds index segments a crash left unwritten, and the open segment, on the next open', async () => {
    const dir = tempDir()
    let store = Store.open({ dir })
    let journal = new Journal(store, { indexSegmentSize: 8 })
    for (let i = 0; i < 30; i++)
      await journal.append(draft(i, { trace_id: i % 2 ? 'e'.repeat(32) : 'f'.repeat(32) }))
    await journal.close()
    // As if the process died before the last two closed segments were written.
    const postings = store.database('journal_postings', { encoding: 'string' })
    const filters = store.database('journal_filters', { encoding: 'binary' })
    const keys = [...postings.getKeys()].map(String).sort()
    expect(keys.length).toBe(3) // three closed segments of 8
    for (const key of keys.slice(-2)) {
      postings.removeSync(key)
      filters.removeSync(key)
    }
    await store.close()
    store = Store.open({ dir })
    journal = new Journal(store, { indexSegmentSize: 8 })
    const odd = Array.from({ length: 15 }, (_, i) => 2 * i + 2)
    expect(journal.byTrace('e'.repeat(32)).map((e) => e.id)).toEqual(odd)
    expect([...store.database('journal_postings', { encoding: 'string' }).getKeys()].length).toBe(3)
    await journal.append(draft(30, { trace_id: 'e'.repeat(32) }))
    expect(journal.byTrace('e'.repeat(32)).map((e) => e.id)).toEqual([...odd, 31])
    await journal.close()
    await store.close()
  })

  it('refuses calls whose flush failed but still publishes their committed records in order', async () => {
    const store = Store.open({ dir: tempDir(), durability: 'fsync' })
    const journal = new Journal(store)
    const seen: number[] = []
    journal.subscribe((record) => seen.push(record.id))
    // The commit succeeds, then the disk flush fails once (an I/O error).
    const settle = vi
      .spyOn(store, 'settle')
      .mockImplementationOnce((write) => write.then(() => Promise.reject(new Error('EIO: flush failed'))))
    const unflushed = journal.append(draft(1))
    await expect(unflushed).rejects.toThrow('EIO')
    settle.mockRestore()
    expect((await journal.append(draft(2))).id).toBe(2)
    // Live subscribers and a reader of the journal see the same sequence, without a gap.
    expect(journal.read(0, 10).map((e) => e.id)).toEqual([1, 2])
    expect(seen).toEqual([1, 2])
    expect(journal.head).toBe(2)
    await journal.close()
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
