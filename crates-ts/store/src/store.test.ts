import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ProblemError } from '@arw/protocol'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { type JournalRecord, MAX_PAGE_SIZE, Store } from './index.ts'
import type { LmdbBackend } from './lmdb/backend.ts'
import { type PostgresServer, startPostgres } from './testing/postgres.ts'

/**
 * The storage contract: every backend passes the same suite. A backend is a way to get a fresh
 * location, and a way to make its next commit fail as a full disk would.
 */
interface BackendUnderTest {
  name: 'lmdb' | 'postgres'
  /** Several stores (daemons) may write one location at once. */
  sharedWriters: boolean
  location(): string
  /** Makes the backend refuse commits until the returned function is called. */
  refuseCommits(store: Store): Promise<() => Promise<void>>
}

let server: PostgresServer | undefined
let databases = 0
const dirs: string[] = []

const lmdb: BackendUnderTest = {
  name: 'lmdb',
  sharedWriters: false,
  location() {
    const dir = mkdtempSync(join(tmpdir(), 'arw-store-'))
    dirs.push(dir)
    return dir
  },
  async refuseCommits(store) {
    // The environment refuses the write transaction (as on MDB_MAP_FULL): in `commit` durability
    // the commit is a synchronous transaction, in `fsync` an lmdb batch that fails a moment later.
    const backend = store.backend() as LmdbBackend
    const spy = backend.flushes
      ? vi
          .spyOn(Object.getPrototypeOf(backend.database('journal', 'string')), 'batch')
          .mockImplementation(
            () => new Promise((_, reject) => setTimeout(() => reject(new Error('MDB_MAP_FULL')), 5)),
          )
      : vi.spyOn(backend.root, 'transactionSync').mockImplementation(() => {
          throw new Error('MDB_MAP_FULL')
        })
    return async () => {
      spy.mockRestore()
    }
  },
}

const postgres: BackendUnderTest = {
  name: 'postgres',
  sharedWriters: true,
  location() {
    return server!.createDatabase(`contract_${process.pid}_${++databases}`)
  },
  async refuseCommits(store) {
    // The database itself refuses every journal insert (as a full tablespace would).
    const database = new URL(storeUrl(store)).pathname.slice(1)
    server!.sql(
      database,
      `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$;
       CREATE TRIGGER refuse BEFORE INSERT ON arw_journal EXECUTE FUNCTION refuse();`,
    )
    return async () => {
      server!.sql(database, 'DROP TRIGGER refuse ON arw_journal; DROP FUNCTION refuse();')
    }
  },
}

const urls = new WeakMap<Store, string>()
function storeUrl(store: Store): string {
  return urls.get(store)!
}

async function open(backend: BackendUnderTest, location = backend.location(), durability?: 'fsync') {
  const store = await Store.open({ location, ...(durability ? { durability } : {}) })
  urls.set(store, location)
  return store
}

beforeAll(async () => {
  server = await startPostgres()
}, 600_000)
afterAll(async () => {
  await server?.stop()
})
afterEach(() => {
  vi.useRealTimers()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const draft = (n: number, extra: Record<string, unknown> = {}) => ({
  kind: 'test.event',
  version: '1.0.0',
  severity: 'info' as const,
  payload: { n },
  ...extra,
})

interface User {
  email: string
  team?: string
}
const users = {
  area: 'identity',
  name: 'users',
  indexes: [
    { name: 'email', unique: true, of: (u: User) => u.email },
    { name: 'team', of: (u: User) => u.team },
  ],
}

async function problemOf(promise: Promise<unknown>): Promise<ProblemError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(ProblemError)
  return error as ProblemError
}

describe.each([lmdb, postgres])('storage contract on $name', (backend) => {
  describe('collections', () => {
    it('puts, gets and deletes records, with a version that grows on every put', async () => {
      const store = await open(backend)
      const things = store.collection<{ v: number }>({ area: 'demo', name: 'things' })
      expect(things.name).toBe('demo/things')
      expect(await things.put('a', { v: 1 })).toBe(1)
      expect(await things.put('a', { v: 2 })).toBe(2)
      expect(await things.get('a')).toEqual({ v: 2 })
      expect(await things.entry('a')).toEqual({ key: 'a', value: { v: 2 }, version: 2 })
      await things.delete('a')
      expect(await things.get('a')).toBeUndefined()
      await things.delete('never-there')
      expect(await things.put('a', { v: 3 })).toBe(1)
      await store.close()
    })

    it('keeps the collections of different areas apart, and keeps records across a reopen', async () => {
      const location = backend.location()
      let store = await open(backend, location)
      await store.collection<string>({ area: 'one', name: 'c' }).put('k', 'of one')
      await store.collection<string>({ area: 'two', name: 'c' }).put('k', 'of two')
      await store.close()
      store = await open(backend, location)
      expect(await store.collection<string>({ area: 'one', name: 'c' }).get('k')).toBe('of one')
      expect(await store.collection<string>({ area: 'two', name: 'c' }).get('k')).toBe('of two')
      expect((await store.collection({ area: 'three', name: 'c' }).list()).items).toEqual([])
      await store.close()
    })

    it('refuses keys it cannot store with a validation problem', async () => {
      const store = await open(backend)
      const things = store.collection<number>({ area: 'demo', name: 'things' })
      for (const key of ['', 'a\0b', 'x'.repeat(1025)]) {
        const problem = await problemOf(things.put(key, 1))
        expect(problem.code).toBe('validation_failed')
        expect(problem.entry.name).toBe('store_key_invalid')
      }
      await store.close()
    })

    it('lists, pages and finds records whose keys are long (64 characters and more)', async () => {
      // LMDB's first layout wrote the separator in a longer key differently from a short one: such
      // records were once never listed, then listed before the short keys instead of in byte order.
      const store = await open(backend)
      const people = store.collection<User>(users)
      const long = (c: string, n: number) => c + 'x'.repeat(n - 1)
      const keys = [long('d', 200), 'a1', long('c', 64), 'e', long('b', 40), long('a', 120)]
      const ordered = [...keys].sort(byteOrder)
      for (const [i, key] of keys.entries()) await people.put(key, { email: `${i}@example.com`, team: 'red' })
      expect((await people.list()).items.map((e) => e.key)).toEqual(ordered)
      const paged: string[] = []
      let cursor: string | undefined
      do {
        const page = await people.list({ limit: 1, ...(cursor ? { cursor } : {}) })
        paged.push(...page.items.map((e) => e.key))
        cursor = page.next_cursor ?? undefined
      } while (cursor)
      expect(paged).toEqual(ordered)
      expect((await people.find('team', 'red')).items.map((e) => e.key)).toEqual(ordered)
      const found: string[] = []
      cursor = undefined
      do {
        const page = await people.find('team', 'red', { limit: 1, ...(cursor ? { cursor } : {}) })
        found.push(...page.items.map((e) => e.key))
        cursor = page.next_cursor ?? undefined
      } while (cursor)
      expect(found).toEqual(ordered)
      expect((await people.find('email', '2@example.com')).items.map((e) => e.key)).toEqual([keys[2]])
      // A unique index sees a long key's claim: a second record with its value is refused.
      const refused = await problemOf(people.put('f1', { email: '2@example.com' }))
      expect(refused.entry.name).toBe('unique_conflict')
      await store.close()
    })

    it('lists in key order, by prefix, a bounded page at a time, with cursors that resume exactly', async () => {
      const store = await open(backend)
      const things = store.collection<number>({ area: 'demo', name: 'things' })
      const keys = ['b:2', 'a:1', 'b:10', 'b:1', 'c', 'B', 'b:é', 'b:z']
      await Promise.all(keys.map((key, i) => things.put(key, i)))
      // Byte order (UTF-8), the same on every backend.
      expect((await things.list()).items.map((e) => e.key)).toEqual([...keys].sort(byteOrder))
      const pages: string[][] = []
      let cursor: string | undefined
      do {
        const page = await things.list({ prefix: 'b:', limit: 2, ...(cursor ? { cursor } : {}) })
        pages.push(page.items.map((e) => e.key))
        cursor = page.next_cursor ?? undefined
        if (cursor) expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/)
      } while (cursor)
      expect(pages).toEqual([['b:1', 'b:10'], ['b:2', 'b:z'], ['b:é']])
      // A record written between pages appears in the page its key belongs to, never twice.
      const first = await things.list({ prefix: 'b:', limit: 2 })
      await things.put('b:0', 99)
      await things.put('b:3', 99)
      const rest = await things.list({ prefix: 'b:', limit: 10, cursor: first.next_cursor! })
      expect(rest.items.map((e) => e.key)).toEqual(['b:2', 'b:3', 'b:z', 'b:é'])
      expect((await things.list({ limit: 10_000 })).items.length).toBeLessThanOrEqual(MAX_PAGE_SIZE)
      const problem = await problemOf(things.list({ cursor: 'not a cursor!' }))
      expect(problem.entry.name).toBe('invalid_cursor')
      expect(problem.status).toBe(400)
      await store.close()
    })

    it('bounds a page at MAX_PAGE_SIZE', async () => {
      const store = await open(backend)
      const things = store.collection<number>({ area: 'demo', name: 'many' })
      await Promise.all(Array.from({ length: MAX_PAGE_SIZE + 5 }, (_, i) => things.put(`k${i}`, i)))
      const page = await things.list({ limit: MAX_PAGE_SIZE + 100 })
      expect(page.items.length).toBe(MAX_PAGE_SIZE)
      const next = await things.list({ limit: MAX_PAGE_SIZE, cursor: page.next_cursor! })
      expect(next.items.length).toBe(5)
      expect(next.next_cursor).toBeNull()
      await store.close()
    })

    it('writes with ifVersion only over the version it names, else a conflict', async () => {
      const store = await open(backend)
      const things = store.collection<string>({ area: 'demo', name: 'things' })
      expect(await things.put('k', 'first', { ifVersion: 0 })).toBe(1)
      const taken = await problemOf(things.put('k', 'again', { ifVersion: 0 }))
      expect(taken.code).toBe('conflict')
      expect(taken.status).toBe(409)
      expect(await things.put('k', 'second', { ifVersion: 1 })).toBe(2)
      const stale = await problemOf(things.put('k', 'lost update', { ifVersion: 1 }))
      expect(stale.entry.name).toBe('version_conflict')
      expect(await things.get('k')).toBe('second')
      expect((await problemOf(things.delete('k', { ifVersion: 1 }))).code).toBe('conflict')
      await things.delete('k', { ifVersion: 2 })
      expect(await things.get('k')).toBeUndefined()
      await store.close()
    })

    it('lets exactly one of many concurrent writers of the same version win', async () => {
      const store = await open(backend)
      const things = store.collection<number>({ area: 'demo', name: 'things' })
      await things.put('counter', 0)
      const outcomes = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => things.put('counter', i + 1, { ifVersion: 1 })),
      )
      expect(outcomes.filter((o) => o.status === 'fulfilled').length).toBe(1)
      expect((await things.entry('counter'))?.version).toBe(2)
      await store.close()
    })

    it('keeps a unique index: a second record with the value is a conflict, never an overwrite', async () => {
      const store = await open(backend)
      const c = store.collection<User>(users)
      await c.put('u1', { email: 'ada@example.org', team: 'x' })
      const problem = await problemOf(c.put('u2', { email: 'ada@example.org' }))
      expect(problem.code).toBe('conflict')
      expect(problem.entry.name).toBe('unique_conflict')
      expect(problem.message).not.toContain('ada@example.org')
      expect(await c.get('u2')).toBeUndefined()
      expect((await c.find('email', 'ada@example.org')).items.map((e) => e.key)).toEqual(['u1'])
      // The holder may write itself again; a changed value frees the old one.
      await c.put('u1', { email: 'ada@example.org', team: 'y' })
      await c.put('u1', { email: 'lovelace@example.org', team: 'y' })
      expect((await c.find('email', 'ada@example.org')).items).toEqual([])
      await c.put('u2', { email: 'ada@example.org' })
      await c.delete('u1')
      await c.put('u3', { email: 'lovelace@example.org' })
      expect((await c.find('email', 'lovelace@example.org')).items.map((e) => e.key)).toEqual(['u3'])
      // Two concurrent claims of one value: one wins.
      const claims = await Promise.allSettled([
        c.put('u4', { email: 'grace@example.org' }),
        c.put('u5', { email: 'grace@example.org' }),
      ])
      expect(claims.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected'])
      await store.close()
    })

    it('finds records by a non-unique index, in key order, a page at a time', async () => {
      const store = await open(backend)
      const c = store.collection<User>(users)
      for (let i = 0; i < 5; i++)
        await c.put(`u${i}`, { email: `${i}@example.org`, team: i % 2 ? 'odd' : 'even' })
      const first = await c.find('team', 'even', { limit: 2 })
      expect(first.items.map((e) => e.key)).toEqual(['u0', 'u2'])
      const rest = await c.find('team', 'even', { cursor: first.next_cursor! })
      expect(rest.items.map((e) => e.key)).toEqual(['u4'])
      expect(rest.next_cursor).toBeNull()
      await c.put('u2', { email: '2@example.org', team: 'odd' })
      expect((await c.find('team', 'odd')).items.map((e) => e.key)).toEqual(['u1', 'u2', 'u3'])
      await store.close()
    })

    it('stops returning a record when its TTL ends, and the sweep deletes it', async () => {
      const store = await open(backend)
      const c = store.collection<User>(users)
      await c.put('short', { email: 's@example.org', team: 't' }, { ttlMs: 60_000 })
      await c.put('long', { email: 'l@example.org', team: 't' }, { ttlMs: 3_600_000 })
      await c.put('forever', { email: 'f@example.org', team: 't' })
      expect((await c.entry('short'))?.expiresAt).toBeGreaterThan(Date.now())
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 120_000 })
      expect(await c.get('short')).toBeUndefined()
      expect((await c.list()).items.map((e) => e.key)).toEqual(['forever', 'long'])
      expect((await c.find('team', 't')).items.map((e) => e.key)).toEqual(['forever', 'long'])
      // An expired record holds nothing: not its unique value, not its version.
      await c.put('other', { email: 's@example.org' })
      expect(await c.put('short', { email: 'again@example.org' }, { ifVersion: 0 })).toBe(2)
      await c.put('gone', { email: 'g@example.org' }, { ttlMs: 1000 })
      vi.setSystemTime(Date.now() + 5000)
      expect(await store.sweep()).toBe(1)
      expect(await c.list()).toMatchObject({
        items: [{ key: 'forever' }, { key: 'long' }, { key: 'other' }, { key: 'short' }],
      })
      expect(await store.sweep()).toBe(0)
      await store.close()
    })

    it('does not sweep a record written again after the sweep found it expired', async () => {
      const store = await open(backend)
      const c = store.collection<string>({ area: 'demo', name: 'ttl' })
      await c.put('k', 'old', { ttlMs: 1000 })
      const later = Date.now() + 5000
      vi.useFakeTimers({ toFake: ['Date'], now: later })
      const sweeping = store.sweep(later)
      await c.put('k', 'new')
      await sweeping
      expect(await c.get('k')).toBe('new')
      await store.close()
    })
  })

  describe('transactions', () => {
    it('commits records of several collections and journal events together', async () => {
      const store = await open(backend)
      const accounts = store.collection<number>({ area: 'bank', name: 'accounts' })
      const audit = store.collection<string>({ area: 'audit', name: 'notes' })
      await accounts.put('a', 100)
      await accounts.put('b', 0)
      let appended: Promise<JournalRecord> | undefined
      const result = await store.transaction(async (tx) => {
        const a = (await tx.get(accounts, 'a'))!
        const b = (await tx.get(accounts, 'b'))!
        tx.put(accounts, 'a', a.value - 30)
        tx.put(accounts, 'b', b.value + 30)
        expect((await tx.get(accounts, 'a'))?.value).toBe(70)
        tx.put(audit, 'n1', 'moved 30')
        appended = tx.append(draft(1, { task_id: 'transfer-1' }))
        return 'moved'
      })
      expect(result).toBe('moved')
      const record = await appended!
      expect(await accounts.get('a')).toBe(70)
      expect(await accounts.get('b')).toBe(30)
      expect(await audit.get('n1')).toBe('moved 30')
      expect((await store.journal.get(record.id))?.task_id).toBe('transfer-1')
      await store.close()
    })

    it('commits nothing, and takes no journal id, when the callback throws', async () => {
      const store = await open(backend)
      const c = store.collection<number>({ area: 'demo', name: 'things' })
      await store.journal.append(draft(0))
      let appended: Promise<JournalRecord> | undefined
      await expect(
        store.transaction(async (tx) => {
          tx.put(c, 'x', 1)
          appended = tx.append(draft(1))
          throw new Error('changed my mind')
        }),
      ).rejects.toThrow('changed my mind')
      await expect(appended!).rejects.toThrow('changed my mind')
      expect(await c.get('x')).toBeUndefined()
      expect((await store.journal.append(draft(2))).id).toBe(2)
      await store.close()
    })

    it('fails with a conflict, committing nothing, when a record it read changed before its commit', async () => {
      const store = await open(backend)
      const c = store.collection<number>({ area: 'demo', name: 'things' })
      const other = store.collection<number>({ area: 'demo', name: 'other' })
      await c.put('balance', 10)
      const before = store.journal.head
      const problem = await problemOf(
        store.transaction(async (tx) => {
          const balance = (await tx.get(c, 'balance'))!
          await c.put('balance', 0) // someone else, meanwhile
          tx.put(other, 'spent', balance.value)
          tx.put(c, 'balance', balance.value - 10)
          void tx.append(draft(1))
        }),
      )
      expect(problem.entry.name).toBe('version_conflict')
      expect(await c.get('balance')).toBe(0)
      expect(await other.get('spent')).toBeUndefined()
      // The refused transaction's event took no id.
      expect((await store.journal.append(draft(2))).id).toBe(before + 1)
      // Reading an absent record counts too: it must still be absent at the commit.
      await expect(
        store.transaction(async (tx) => {
          if ((await tx.get(c, 'new')) === undefined) await c.put('new', 1)
          tx.put(other, 'saw-no-new', 1)
        }),
      ).rejects.toMatchObject({ code: 'conflict' })
      expect(await other.get('saw-no-new')).toBeUndefined()
      await store.close()
    })
  })

  describe('journal', () => {
    it('gives strictly increasing ids without holes to concurrent appends, in call order', async () => {
      const store = await open(backend)
      const records = await Promise.all(Array.from({ length: 500 }, (_, i) => store.journal.append(draft(i))))
      expect(records.map((r) => r.id)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1))
      expect(records.every((r) => JSON.parse(r.json).id === r.id && r.event.id === r.id)).toBe(true)
      expect(store.journal.head).toBe(500)
      const read = await store.journal.read(0, 1000)
      expect(read.map((e) => (e.payload as { n: number }).n)).toEqual(
        Array.from({ length: 500 }, (_, i) => i),
      )
      expect((await store.journal.readRaw(0, 1000)).map((r) => r.json)).toEqual(records.map((r) => r.json))
      await store.close()
    })

    it('publishes to listeners in id order, only after the record is durable', async () => {
      const store = await open(backend)
      const seen: number[] = []
      const checks: Array<Promise<void>> = []
      store.journal.subscribe((record) => {
        seen.push(record.id)
        checks.push(store.journal.get(record.id).then((e) => expect(e?.id).toBe(record.id)))
      })
      await Promise.all(Array.from({ length: 200 }, (_, i) => store.journal.append(draft(i))))
      await Promise.all(checks)
      expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => i + 1))
      await store.close()
    })

    it('reads ranges bounded by after, limit and upTo, and single records', async () => {
      const store = await open(backend)
      for (let i = 0; i < 10; i++) await store.journal.append(draft(i))
      await Promise.all([store.journal.append(draft(10)), store.journal.append(draft(11))])
      const ids = async (after: number, limit: number, upTo?: number) =>
        (await store.journal.readRaw(after, limit, upTo)).map((r) => r.id)
      expect(await ids(3, 4)).toEqual([4, 5, 6, 7])
      expect(await ids(3, 100, 5)).toEqual([4, 5])
      expect(await ids(10, 100)).toEqual([11, 12])
      expect(await ids(12, 100)).toEqual([])
      expect(await store.journal.get(7)).toMatchObject({ id: 7, payload: { n: 6 } })
      expect(await store.journal.get(13)).toBeUndefined()
      await store.close()
    })

    it('continues the sequence after a reopen', async () => {
      const location = backend.location()
      let store = await open(backend, location)
      await store.journal.append(draft(1))
      await store.journal.append(draft(2))
      await store.close()
      store = await open(backend, location)
      expect(store.journal.head).toBe(2)
      expect((await store.journal.append(draft(3))).id).toBe(3)
      expect((await store.journal.readRaw(1, 10)).map((r) => r.id)).toEqual([2, 3])
      await store.close()
    })

    it('finds events by trace and by task', async () => {
      const store = await open(backend)
      await store.journal.append(draft(1, { trace_id: 'a'.repeat(32), task_id: 'job-1' }))
      await store.journal.append(draft(2, { trace_id: 'b'.repeat(32), task_id: 'job-1' }))
      await store.journal.append(draft(3, { trace_id: 'a'.repeat(32) }))
      expect((await store.journal.byTrace('a'.repeat(32))).map((e) => e.id)).toEqual([1, 3])
      expect((await store.journal.byTask('job-1')).map((e) => e.id)).toEqual([1, 2])
      expect((await store.journal.byTask('job-1', 1)).map((e) => e.id)).toEqual([1])
      expect(await store.journal.byTask('nope')).toEqual([])
      await store.close()
    })

    it('commits writes given as data with the record, in the same batch as other appends', async () => {
      const store = await open(backend)
      const answers = store.collection<{ n: number }>({ area: 'invoke', name: 'answers' })
      const c = store.collection<User>(users)
      await c.put('taken', { email: 'taken@example.org' })
      const outcomes = await Promise.allSettled([
        store.journal.append(draft(1), [answers.putOp('k1', { n: 1 }, { ttlMs: 60_000 })]),
        // A write whose condition fails refuses its own append, and only it.
        store.journal.append(draft(2), [
          answers.putOp('k2', { n: 2 }),
          c.putOp('u', { email: 'taken@example.org' }),
        ]),
        store.journal.append(draft(3)),
        store.journal.append(draft(4), [answers.putOp('k1', { n: 4 }, { ifVersion: 1 })]),
      ])
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled'])
      expect(((outcomes[1] as PromiseRejectedResult).reason as ProblemError).code).toBe('conflict')
      const ids = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.id] : []))
      expect(ids).toEqual([1, 2, 3])
      expect(await answers.entry('k1')).toMatchObject({ value: { n: 4 }, version: 2 })
      expect(await answers.get('k2')).toBeUndefined()
      expect((await store.journal.read(0, 10)).map((e) => (e.payload as { n: number }).n)).toEqual([1, 3, 4])
      // A payload JSON cannot hold is refused before it is queued.
      expect(() => store.journal.append(draft(5, { payload: { n: 10n } }))).toThrow()
      expect((await store.journal.append(draft(6))).id).toBe(4)
      await store.close()
    })

    it('leaves no hole after a refused commit: the next commit takes the ids it would have', async () => {
      const location = backend.location()
      let store = await open(backend, location)
      const answers = store.collection<number>({ area: 'invoke', name: 'answers' })
      const seen: number[] = []
      store.journal.subscribe((record) => seen.push(record.id))
      expect((await store.journal.append(draft(1))).id).toBe(1)
      const restore = await backend.refuseCommits(store)
      const refused = await Promise.allSettled([
        store.journal.append(draft(2)),
        store.journal.append(draft(3), [answers.putOp('k', 3)]),
      ])
      expect(refused.map((o) => o.status)).toEqual(['rejected', 'rejected'])
      expect(store.journal.health).toMatchObject({ failing: true, commitFailures: 1 })
      await restore()
      expect((await store.journal.append(draft(4))).id).toBe(2)
      expect((await store.journal.append(draft(5), [answers.putOp('k', 5)])).id).toBe(3)
      expect(store.journal.health.failing).toBe(false)
      expect((await store.journal.read(0, 10)).map((e) => [e.id, (e.payload as { n: number }).n])).toEqual([
        [1, 1],
        [2, 4],
        [3, 5],
      ])
      expect(await answers.get('k')).toBe(5)
      expect(seen).toEqual([1, 2, 3])
      await store.close()
      store = await open(backend, location)
      expect(store.journal.head).toBe(3)
      expect((await store.journal.append(draft(6))).id).toBe(4)
      await store.close()
    })

    it('commits the batch still filling when it closes', async () => {
      const location = backend.location()
      let store = await open(backend, location)
      const pending = store.journal.append(draft(1))
      await store.close()
      expect((await pending).id).toBe(1)
      store = await open(backend, location)
      expect((await store.journal.read(0, 10)).map((e) => e.id)).toEqual([1])
      await store.close()
    })

    it('acknowledges in fsync mode too, with the same order', async () => {
      const store = await open(backend, backend.location(), 'fsync')
      expect(store.durability).toBe('fsync')
      const records = await Promise.all(Array.from({ length: 20 }, (_, i) => store.journal.append(draft(i))))
      expect(records.map((r) => r.id)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
      await store.close()
    })

    describe('retention', () => {
      /** Ids the journal still holds, read from the start. */
      const kept = async (store: Store) => (await store.journal.readRaw(0, 100_000)).map((r) => r.id)
      const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

      it('removes records older than the age from the oldest end; the sequence goes on after a reopen', async () => {
        const location = backend.location()
        let store = await open(backend, location)
        const trace = 'c'.repeat(32)
        vi.useFakeTimers({ toFake: ['Date'], now: Date.now() - 3_600_000 })
        await Promise.all(range(1, 40).map((n) => store.journal.append(draft(n, { trace_id: trace }))))
        vi.useRealTimers()
        await Promise.all(range(41, 60).map((n) => store.journal.append(draft(n, { trace_id: trace }))))
        expect(store.journal.oldest).toBe(1)
        expect(await store.retain({ maxAgeMs: 600_000 })).toBe(40)
        expect(store.journal.oldest).toBe(41)
        expect(await kept(store)).toEqual(range(41, 60))
        expect(await store.journal.get(40)).toBeUndefined()
        expect((await store.journal.byTrace(trace)).map((e) => e.id)).toEqual(range(41, 60))
        // Nothing else is old enough.
        expect(await store.retain({ maxAgeMs: 600_000 })).toBe(0)
        expect((await store.journal.append(draft(61))).id).toBe(61)
        await store.close()
        store = await open(backend, location)
        expect(store.journal.head).toBe(61)
        expect(store.journal.oldest).toBe(41)
        expect((await store.journal.append(draft(62))).id).toBe(62)
        expect(await kept(store)).toEqual(range(41, 62))
        await store.close()
      })

      it('removes the oldest records until the journal fits the size, beside appends that go on', async () => {
        const store = await open(backend)
        const payload = 'x'.repeat(2000)
        for (let round = 0; round < 30; round++)
          await Promise.all(
            range(1, 100).map((n) => store.journal.append(draft(n, { payload: { payload } }))),
          )
        expect(store.journal.head).toBe(3000)
        // Appends go on while the pass runs; none of them is lost or renumbered.
        const [removed, ...appended] = await Promise.all([
          store.retain({ maxBytes: 1_000_000 }),
          ...range(1, 50).map((n) => store.journal.append(draft(n))),
        ])
        expect(removed as number).toBeGreaterThan(2000)
        expect(appended.map((r) => (r as JournalRecord).id)).toEqual(range(3001, 3050))
        // The appends made during the pass may need a few more to go; then it fits, and stays put.
        const more = await store.retain({ maxBytes: 1_000_000 })
        expect(more).toBeLessThan(100)
        expect(await store.retain({ maxBytes: 1_000_000 })).toBe(0)
        const oldest = store.journal.oldest
        expect(oldest).toBe((removed as number) + more + 1)
        expect(oldest).toBeLessThan(3000)
        expect(await kept(store)).toEqual(range(oldest, 3050))
        // A read from a removed id starts at the oldest kept one.
        expect((await store.journal.readRaw(5, 1))[0]?.id).toBe(oldest)
        await store.close()
      })

      it('never removes the newest record, so the head never moves back', async () => {
        const location = backend.location()
        let store = await open(backend, location)
        for (let i = 0; i < 5; i++) await store.journal.append(draft(i))
        expect(await store.retain({ maxBytes: 1, maxAgeMs: 0 }, Date.now() + 60_000)).toBe(4)
        expect(await kept(store)).toEqual([5])
        await store.close()
        store = await open(backend, location)
        expect(store.journal.head).toBe(5)
        expect(store.journal.oldest).toBe(5)
        expect((await store.journal.append(draft(6))).id).toBe(6)
        await store.close()
      })
    })

    it.runIf(backend.sharedWriters)(
      'keeps ids gap-free and in commit order with several writers on one location',
      async () => {
        const location = backend.location()
        const stores = await Promise.all([
          open(backend, location),
          open(backend, location),
          open(backend, location),
        ])
        const perStore = await Promise.all(
          stores.map(async (store, s) => {
            const ids: number[] = []
            for (let round = 0; round < 10; round++) {
              const batch = await Promise.all(
                Array.from({ length: 20 }, (_, i) => store.journal.append(draft(s * 1000 + round * 20 + i))),
              )
              ids.push(...batch.map((r) => r.id))
            }
            return ids
          }),
        )
        const all = perStore.flat().sort((a, b) => a - b)
        expect(all).toEqual(Array.from({ length: 600 }, (_, i) => i + 1))
        // Each writer's records are in its own call order, and stored under the ids it was given.
        for (const ids of perStore) expect(ids).toEqual([...ids].sort((a, b) => a - b))
        const events = await stores[0]!.journal.read(0, 1000, 600)
        expect(events.map((e) => e.id)).toEqual(all)
        for (const [s, ids] of perStore.entries()) {
          const mine = events.filter((e) => Math.floor((e.payload as { n: number }).n / 1000) === s)
          expect(mine.map((e) => e.id)).toEqual(ids)
        }
        await Promise.all(stores.map((store) => store.close()))
      },
    )
  })
})

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

describe('PostgreSQL schema', () => {
  it('is created at the first open, migrated once, and a schema newer than this code is refused', async () => {
    const url = postgres.location()
    const database = new URL(url).pathname.slice(1)
    await (await Store.open({ location: url })).close()
    await (await Store.open({ location: url })).close()
    expect(server!.sql(database, 'SELECT version FROM arw_schema_migrations ORDER BY version').trim()).toBe(
      '1',
    )
    server!.sql(database, 'INSERT INTO arw_schema_migrations (version) VALUES (2)')
    await expect(Store.open({ location: url })).rejects.toThrow(
      'the PostgreSQL schema is at version 2, newer than this daemon knows (1)',
    )
  })
})
