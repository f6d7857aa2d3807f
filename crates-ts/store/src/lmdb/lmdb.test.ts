import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { CollectionSpec } from '../port.ts'
import { Store } from '../store.ts'
import type { LmdbBackend } from './backend.ts'
import { writePreportStateDir, writeStringKeyedStateDir } from './preport.ts'

// What only the LMDB backend promises: its on-disk layout (batches as one value, older state
// directories), its trace/task index segments, and its fsync flush. The rest is store.test.ts.

const dirs: string[] = []
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'arw-lmdb-'))
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

const backendOf = (store: Store) => store.backend() as LmdbBackend

describe('LMDB backend', () => {
  it('stores a burst of appends as one value and reads any record of it, also after a reopen', async () => {
    const dir = tempDir()
    let store = await Store.open({ location: dir })
    // One turn: ids 1-10 in one batch. Then one more turn: ids 11-13.
    await Promise.all(Array.from({ length: 10 }, (_, i) => store.journal.append(draft(i))))
    await Promise.all(Array.from({ length: 3 }, (_, i) => store.journal.append(draft(10 + i))))
    const raw = backendOf(store).database<string>('journal', 'string')
    expect([...raw.getKeys({})]).toEqual([1, 11])
    expect((await store.journal.readRaw(8, 100)).map((r) => r.id)).toEqual([9, 10, 11, 12, 13])
    expect((await store.journal.readRaw(3, 100, 11)).map((r) => r.id)).toEqual([4, 5, 6, 7, 8, 9, 10, 11])
    await store.close()
    store = await Store.open({ location: dir })
    expect(store.journal.head).toBe(13)
    expect((await store.journal.append(draft(13))).id).toBe(14)
    await store.close()
  })

  it('opens a state directory written before the storage port, and goes on from it', async () => {
    const dir = tempDir()
    const line = (id: number) => ({ id, time: '2026-11-30T10:00:00.000Z', ...draft(id) })
    await writePreportStateDir(dir, {
      // An older single-record value, then a batch of three.
      journal: [[line(1)], [2, 3, 4].map(line)],
      collections: {
        idempotency: {
          'principal\0key-1': { fingerprint: 'f', status: 200, body: { ok: true }, created: 1 },
        },
        mcp: { 'session-key': 'c2VjcmV0' },
      },
    })

    let store = await Store.open({ location: dir })
    expect(store.journal.head).toBe(4)
    expect((await store.journal.read(0, 10)).map((e) => e.id)).toEqual([1, 2, 3, 4])
    // Keys that changed shape (NUL is no longer allowed in a key) are converted on the way.
    const idempotency = store.collection({
      area: 'invoke',
      name: 'idempotency',
      formerly: {
        name: 'idempotency',
        convert: (key, value) => ({ key: key.replace('\0', '\n'), value, expiresAt: Date.now() + 60_000 }),
      },
    })
    expect((await idempotency.list()).items).toEqual([
      {
        key: 'principal\nkey-1',
        value: { fingerprint: 'f', status: 200, body: { ok: true }, created: 1 },
        version: 1,
        expiresAt: expect.any(Number),
      },
    ])
    const mcp = store.collection<string>({ area: 'mcp', name: 'keys', formerly: { name: 'mcp' } })
    expect(await mcp.get('session-key')).toBe('c2VjcmV0')
    expect((await store.journal.append(draft(5))).id).toBe(5)
    await store.close()
    // Moved once: a reopen finds the entries in their new place and the old ones gone.
    store = await Store.open({ location: dir })
    const reopened = store.collection<string>({ area: 'mcp', name: 'keys', formerly: { name: 'mcp' } })
    expect(await reopened.get('session-key')).toBe('c2VjcmV0')
    expect(backendOf(store).database('c:mcp').getKeysCount()).toBe(0)
    await store.close()
  })

  it('opens a state directory of the first storage-port layout (string keys) and lists it in byte order', async () => {
    const dir = tempDir()
    const collection = 'people/users'
    const long = (c: string) => c + 'x'.repeat(99)
    const now = Date.now()
    // Long keys are the ones the string layout wrote differently (their NUL raw).
    const keys = [long('d'), 'a1', long('b'), 'c']
    await writeStringKeyedStateDir(dir, [
      ...keys.map((key, i) => ({
        collection,
        key,
        value: { email: `${i}@example.com`, team: 'red' },
        version: i + 1,
        indexes: { email: `${i}@example.com`, team: 'red' },
      })),
      {
        collection,
        key: long('e'),
        value: { team: 'blue' },
        version: 1,
        expiresAt: now - 1,
        indexes: { team: 'blue' },
      },
    ])
    let store = await Store.open({ location: dir })
    type User = { email?: string; team?: string }
    const spec: CollectionSpec<User> = {
      area: 'people',
      name: 'users',
      indexes: [
        { name: 'email', unique: true, of: (u) => u.email },
        { name: 'team', of: (u) => u.team },
      ],
    }
    const users = store.collection<User>(spec)
    const ordered = ['a1', long('b'), 'c', long('d')]
    expect((await users.list()).items.map((e) => [e.key, e.version])).toEqual(
      ordered.map((k) => [k, keys.indexOf(k) + 1]),
    )
    expect((await users.find('team', 'red')).items.map((e) => e.key)).toEqual(ordered)
    // A unique claim of a long key moved with it: its value is still taken.
    const refused = await users.put('z', { email: '0@example.com' }).catch((e: unknown) => e)
    expect((refused as { entry?: { name: string } }).entry?.name).toBe('unique_conflict')
    // The expired record's expiry entry moved too: the sweep finds and deletes it.
    expect(await backendOf(store).expired(now, 10)).toEqual([{ collection, key: long('e'), version: 1 }])
    await store.close()
    // Moved once: the old sub-databases are empty, and a reopen reads the same.
    store = await Store.open({ location: dir })
    for (const name of ['records', 'indexes', 'expiry'])
      expect(
        backendOf(store)
          .database(name, name === 'records' ? 'msgpack' : 'string')
          .getKeysCount(),
      ).toBe(0)
    expect((await store.collection(spec).list()).items.map((e) => e.key)).toEqual(ordered)
    await store.close()
  })

  it('commits the appends of one event turn in one transaction, on this thread (commit durability)', async () => {
    const store = await Store.open({ location: tempDir() })
    const backend = backendOf(store)
    const transaction = vi.spyOn(backend.root, 'transactionSync')
    const records = await Promise.all(Array.from({ length: 20 }, (_, i) => store.journal.append(draft(i))))
    expect(records.map((r) => r.id)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
    expect(transaction).toHaveBeenCalledTimes(1)
    await store.journal.append(draft(20))
    expect(transaction).toHaveBeenCalledTimes(2)
    transaction.mockRestore()
    await store.close()
  })

  it('commits one batch at a time: calls arriving during a commit join the next batch (fsync)', async () => {
    // In fsync durability a commit and its flush run on lmdb-js's writer thread, so calls go on
    // arriving while one is in flight.
    const store = await Store.open({ location: tempDir(), durability: 'fsync' })
    const lmdb = Object.getPrototypeOf(backendOf(store).database('journal', 'string'))
    const real = lmdb.batch
    // The first commit takes 30 ms (a slow disk).
    const batch = vi.spyOn(lmdb, 'batch').mockImplementationOnce(function (
      this: unknown,
      ...args: unknown[]
    ) {
      return new Promise((resolve) => setTimeout(resolve, 30)).then(() => real.apply(this, args))
    })
    const first = store.journal.append(draft(1))
    await new Promise((resolve) => setImmediate(resolve))
    const later = []
    for (let turn = 0; turn < 3; turn++) {
      later.push(store.journal.append(draft(2 + turn)))
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(batch).toHaveBeenCalledTimes(1)
    const ids = (await Promise.all([first, ...later])).map((r) => r.id)
    expect(ids).toEqual([1, 2, 3, 4])
    // The three turns during the slow commit were written together, after it.
    expect(batch).toHaveBeenCalledTimes(2)
    batch.mockRestore()
    await store.close()
  })

  it('finds events by trace and task across index segments, newest segment still open', async () => {
    const store = await Store.open({ location: tempDir(), indexSegmentSize: 8 })
    const traces = ['a', 'b', 'c'].map((c) => c.repeat(32))
    for (let i = 0; i < 45; i++)
      await store.journal.append(
        draft(i, { trace_id: traces[i % 3], ...(i % 10 === 0 ? { task_id: 'tens' } : {}) }),
      )
    const expected = (r: number) =>
      Array.from({ length: 45 }, (_, i) => i + 1).filter((id) => (id - 1) % 3 === r)
    expect((await store.journal.byTrace(traces[0]!)).map((e) => e.id)).toEqual(expected(0))
    expect((await store.journal.byTrace(traces[1]!, 4)).map((e) => e.id)).toEqual(expected(1).slice(0, 4))
    expect((await store.journal.byTask('tens')).map((e) => e.id)).toEqual([1, 11, 21, 31, 41])
    expect(await store.journal.byTrace('d'.repeat(32))).toEqual([])
    await store.close()
  })

  it('rebuilds index segments a crash left unwritten, and the open segment, on the next open', async () => {
    const dir = tempDir()
    let store = await Store.open({ location: dir, indexSegmentSize: 8 })
    for (let i = 0; i < 30; i++)
      await store.journal.append(draft(i, { trace_id: i % 2 ? 'e'.repeat(32) : 'f'.repeat(32) }))
    await store.journal.close()
    // As if the process died before the last two closed segments were written.
    const postings = backendOf(store).database('journal_postings', 'string')
    const filters = backendOf(store).database('journal_filters', 'binary')
    const keys = [...postings.getKeys()].map(String).sort()
    expect(keys.length).toBe(3) // three closed segments of 8
    for (const key of keys.slice(-2)) {
      postings.removeSync(key)
      filters.removeSync(key)
    }
    await store.close()
    store = await Store.open({ location: dir, indexSegmentSize: 8 })
    const odd = Array.from({ length: 15 }, (_, i) => 2 * i + 2)
    expect((await store.journal.byTrace('e'.repeat(32))).map((e) => e.id)).toEqual(odd)
    expect([...backendOf(store).database('journal_postings', 'string').getKeys()].length).toBe(3)
    await store.journal.append(draft(30, { trace_id: 'e'.repeat(32) }))
    expect((await store.journal.byTrace('e'.repeat(32))).map((e) => e.id)).toEqual([...odd, 31])
    await store.close()
  })

  it('retention removes whole commits and the index segments of removed ids, which a reopen does not rebuild', async () => {
    const dir = tempDir()
    let store = await Store.open({ location: dir, indexSegmentSize: 8 })
    const trace = 'e'.repeat(32)
    const base = Date.now() - 3_600_000
    // Ten commits of 5 records (ids 1-5, 6-10, ...), one second apart.
    vi.useFakeTimers({ toFake: ['Date'], now: base })
    for (let c = 0; c < 10; c++) {
      vi.setSystemTime(base + c * 1000)
      await Promise.all(
        Array.from({ length: 5 }, (_, i) => store.journal.append(draft(c * 5 + i, { trace_id: trace }))),
      )
    }
    vi.useRealTimers()
    const segments = () => [...backendOf(store).database('journal_postings', 'string').getKeys()].map(String)
    // Older than base + 4.5 s: the first five commits, ids 1-25.
    expect(await store.retain({ maxAgeMs: Date.now() - (base + 4500) })).toBe(25)
    // Segments 1-8, 9-16 and 17-24 held only removed ids; 25-32 still holds 25's neighbours.
    expect(segments().slice(0, 2)).toEqual(['000000003', '000000004'])
    // By size, only whole commits go: the rest but the newest commit (its last id is the head).
    expect(await store.retain({ maxBytes: 1 })).toBe(20)
    expect((await store.journal.byTrace(trace)).map((e) => e.id)).toEqual([46, 47, 48, 49, 50])
    await store.close()
    store = await Store.open({ location: dir, indexSegmentSize: 8 })
    expect(store.journal.oldest).toBe(46)
    // Removed segments stay removed; the ones still holding kept ids are there.
    expect(segments().every((key) => key >= '000000005')).toBe(true)
    expect((await store.journal.byTrace(trace)).map((e) => e.id)).toEqual([46, 47, 48, 49, 50])
    await store.close()
  })

  it('refuses calls whose flush failed but still publishes their committed records in order', async () => {
    const store = await Store.open({ location: tempDir(), durability: 'fsync' })
    const seen: number[] = []
    store.journal.subscribe((record) => seen.push(record.id))
    // The commit succeeds, then the disk flush fails once (an I/O error).
    const flushed = vi
      .spyOn(backendOf(store), 'flushed')
      .mockImplementationOnce(() => Promise.reject(new Error('EIO: flush failed')))
    await expect(store.journal.append(draft(1))).rejects.toThrow('EIO')
    flushed.mockRestore()
    expect((await store.journal.append(draft(2))).id).toBe(2)
    // Live subscribers and a reader of the journal see the same sequence, without a gap.
    expect((await store.journal.read(0, 10)).map((e) => e.id)).toEqual([1, 2])
    expect(seen).toEqual([1, 2])
    expect(store.journal.head).toBe(2)
    await store.close()
  })
})
