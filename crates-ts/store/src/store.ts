import type { EventDraft, Page } from '@arw/protocol'
import type { Backend, ReadCheck, StoredRecord } from './backend.ts'
import { Journal } from './journal.ts'
import { afterOf, checkKey, cursorOf, pageSize } from './keys.ts'
import type {
  Collection,
  CollectionSpec,
  DeleteOptions,
  Durability,
  Entry,
  JournalRecord,
  ListOptions,
  PutOptions,
  Transaction,
  Write,
} from './port.ts'
import type { JournalRetention } from './retention.ts'

export interface StoreOptions {
  /**
   * Where the state lives: a directory for the embedded LMDB backend, or a `postgres://` (or
   * `postgresql://`) URL for the shared PostgreSQL backend.
   */
  location: string
  durability?: Durability
  /** LMDB: virtual address space reserved for the map; grows automatically on Linux. */
  mapSize?: number
  /** LMDB: records per trace/task index segment (tests use small ones). */
  indexSegmentSize?: number
  /** How often expired records are deleted (default 60 s). */
  sweepIntervalMs?: number
  /**
   * Removes old journal records (off when absent): once when the store opens, then every
   * `intervalMs` (default RETENTION_INTERVAL_MS), in the background.
   */
  retention?: JournalRetention & {
    intervalMs?: number
    /** Told the outcome of each background pass (for the daemon's log). */
    onPass?: (pass: { removed: number; oldest: number; error?: unknown }) => void
  }
}

/** How often journal retention runs by default. */
export const RETENTION_INTERVAL_MS = 10 * 60_000

/** Expired records deleted per sweep; the next sweep takes the rest. */
const SWEEP_LIMIT = 500

/**
 * The storage port: typed collections of the areas, the journal, and transactions across both,
 * on one backend chosen by `location`. Nothing above this file knows which backend it runs on.
 */
export class Store {
  readonly journal: Journal
  readonly #backend: Backend
  readonly #collections = new Map<string, Collection<unknown>>()
  readonly #sweep: NodeJS.Timeout
  #sweeping: Promise<void> | undefined
  readonly #retention: StoreOptions['retention']
  readonly #retainTimer: NodeJS.Timeout | undefined
  #retaining: Promise<number> | undefined
  readonly #closing = new AbortController()

  private constructor(backend: Backend, sweepIntervalMs: number, retention: StoreOptions['retention']) {
    this.#backend = backend
    this.journal = new Journal(backend)
    this.#sweep = setInterval(() => {
      this.#sweeping ??= this.sweep().then(
        () => {
          this.#sweeping = undefined
        },
        () => {
          this.#sweeping = undefined
        },
      )
    }, sweepIntervalMs)
    this.#sweep.unref()
    if (retention && (retention.maxAgeMs !== undefined || retention.maxBytes !== undefined)) {
      this.#retention = retention
      const pass = () =>
        void this.retain().then(
          (removed) => retention.onPass?.({ removed, oldest: this.journal.oldest }),
          (error: unknown) => retention.onPass?.({ removed: 0, oldest: this.journal.oldest, error }),
        )
      this.#retainTimer = setInterval(pass, retention.intervalMs ?? RETENTION_INTERVAL_MS)
      this.#retainTimer.unref()
      pass()
    }
  }

  /**
   * Runs journal retention now (the configured rule, or `rule`): removes the oldest records it
   * lets go, in bounded chunks beside the appends, never the newest one. Resolves with the number
   * removed; a pass already running is joined instead of starting a second one.
   */
  retain(rule: JournalRetention | undefined = this.#retention, now = Date.now()): Promise<number> {
    if (!rule) return Promise.resolve(0)
    this.#retaining ??= this.#backend
      .retain(rule, now, this.journal.head - 1, this.#closing.signal)
      .finally(() => {
        this.#retaining = undefined
      })
    return this.#retaining
  }

  static async open(options: StoreOptions): Promise<Store> {
    const durability = options.durability ?? 'commit'
    let backend: Backend
    // Each backend is loaded only when chosen: an LMDB daemon never loads the PostgreSQL client,
    // and a PostgreSQL one never maps an LMDB environment.
    if (/^postgres(ql)?:\/\//.test(options.location)) {
      const { openPostgres } = await import('./postgres/backend.ts')
      backend = await openPostgres({ url: options.location, durability })
    } else {
      const { openLmdb } = await import('./lmdb/backend.ts')
      backend = openLmdb({
        dir: options.location,
        durability,
        ...(options.mapSize ? { mapSize: options.mapSize } : {}),
        ...(options.indexSegmentSize ? { indexSegmentSize: options.indexSegmentSize } : {}),
      })
    }
    return new Store(backend, options.sweepIntervalMs ?? 60_000, options.retention)
  }

  get kind(): Backend['kind'] {
    return this.#backend.kind
  }

  get durability(): Durability {
    return this.#backend.durability
  }

  /** The collection `spec` declares; the same object for the same name. */
  collection<T>(spec: CollectionSpec<T>): Collection<T> {
    checkKey('area', spec.area)
    checkKey('collection name', spec.name)
    const name = `${spec.area}/${spec.name}`
    const existing = this.#collections.get(name) as StoredCollection<T> | undefined
    // Asked for again by name only (a test, a reader): the declaration made with indexes or a
    // former location stays. Asked for with them after a bare first use: they apply from now on.
    if (existing && ((!spec.indexes && !spec.formerly) || existing.spec === spec)) return existing
    this.#backend.declare(spec as CollectionSpec<unknown>, name)
    const collection = new StoredCollection<T>(name, spec, this)
    this.#collections.set(name, collection as Collection<unknown>)
    return collection
  }

  /**
   * Runs `fn` and commits what it wrote, and the events it appended, together or not at all: a
   * throw from `fn` commits nothing, and so does a record it read that changed before the commit
   * (`version_conflict`). Resolves with `fn`'s result once the commit is durable.
   */
  async transaction<R>(fn: (tx: Transaction) => Promise<R>): Promise<R> {
    const tx = new StoreTransaction()
    let result: R
    try {
      result = await fn(tx)
    } catch (error) {
      tx.abandon(error)
      throw error
    }
    const { done, records } = this.journal.submit(tx.conditionalWrites(), [...tx.checks.values()], tx.drafts)
    tx.settle(records)
    await done
    return result
  }

  /** Deletes records whose TTL has ended (also run in the background every sweep interval). */
  async sweep(now = Date.now()): Promise<number> {
    const expired = await this.#backend.expired(now, SWEEP_LIMIT)
    // Each deletion is conditional on the version seen expired: a record written again since is kept.
    const done = expired.map(
      (e) =>
        this.journal.submit([
          { collection: e.collection, key: e.key, delete: true, ifExpiredVersion: e.version },
        ]).done,
    )
    const outcomes = await Promise.allSettled(done)
    return outcomes.filter((o) => o.status === 'fulfilled').length
  }

  /** Commits what is queued, then closes the backend. */
  async close(): Promise<void> {
    clearInterval(this.#sweep)
    clearInterval(this.#retainTimer)
    this.#closing.abort()
    await this.#sweeping
    await this.#retaining?.catch(() => {})
    await this.journal.close()
    await this.#backend.close()
  }

  /** @internal What collections read through, and where tests inject backend faults. */
  backend(): Backend {
    return this.#backend
  }
}

/**
 * Copies an embedded (LMDB) state directory's store into an empty directory, consistent and
 * compacted, beside a running daemon. Resolves with the copy's file. (PostgreSQL has its own tools.)
 */
export async function backupStateDir(dir: string, targetDir: string): Promise<string> {
  const { backupLmdb } = await import('./lmdb/backup.ts')
  return backupLmdb(dir, targetDir)
}

/** The embedded store's file inside a state directory. */
export { LMDB_FILE } from './lmdb/file.ts'

function entryOf<T>(record: StoredRecord): Entry<T> {
  return record.expiresAt === undefined
    ? { key: record.key, value: record.value as T, version: record.version }
    : { key: record.key, value: record.value as T, version: record.version, expiresAt: record.expiresAt }
}

function pageOf<T>(records: StoredRecord[], limit: number): Page<Entry<T>> {
  // One more than the page was read: its presence says whether there is a next page.
  const more = records.length > limit
  const items = (more ? records.slice(0, limit) : records).map((r) => entryOf<T>(r))
  return { items, next_cursor: more ? cursorOf(items[items.length - 1]!.key) : null }
}

class StoredCollection<T> implements Collection<T> {
  readonly name: string
  readonly spec: CollectionSpec<T>
  readonly #store: Store
  readonly #backend: Backend

  constructor(name: string, spec: CollectionSpec<T>, store: Store) {
    this.name = name
    this.spec = spec
    this.#store = store
    this.#backend = store.backend()
  }

  async entry(key: string): Promise<Entry<T> | undefined> {
    checkKey('key', key)
    const record = await this.#backend.get(this.name, key)
    return record && entryOf<T>(record)
  }

  async get(key: string): Promise<T | undefined> {
    return (await this.entry(key))?.value
  }

  async put(key: string, value: T, options?: PutOptions): Promise<number> {
    const write = this.putOp(key, value, options)
    const [version] = await this.#store.journal.submit([write]).done
    return version!
  }

  async delete(key: string, options?: DeleteOptions): Promise<void> {
    const write = this.deleteOp(key, options)
    await this.#store.journal.submit([write]).done
  }

  async list(options: ListOptions = {}): Promise<Page<Entry<T>>> {
    const limit = pageSize(options.limit)
    const after = afterOf(options.cursor)
    if (options.prefix !== undefined && options.prefix !== '') checkKey('prefix', options.prefix)
    return pageOf<T>(await this.#backend.list(this.name, options.prefix ?? '', after, limit + 1), limit)
  }

  async find(
    index: string,
    value: string,
    options: Omit<ListOptions, 'prefix'> = {},
  ): Promise<Page<Entry<T>>> {
    if (!this.spec.indexes?.some((i) => i.name === index))
      throw new Error(`${this.name} declares no index ${JSON.stringify(index)}`)
    checkKey('index value', value)
    const limit = pageSize(options.limit)
    const after = afterOf(options.cursor)
    return pageOf<T>(await this.#backend.find(this.name, index, value, after, limit + 1), limit)
  }

  putOp(key: string, value: T, options?: PutOptions): Write {
    checkKey('key', key)
    for (const index of this.spec.indexes ?? []) {
      const indexed = index.of(value)
      if (indexed !== undefined) checkKey(`${index.name} value`, indexed)
    }
    return {
      collection: this.name,
      key,
      value,
      ...(options?.ifVersion !== undefined ? { ifVersion: options.ifVersion } : {}),
      ...(options?.ttlMs !== undefined ? { ttlMs: options.ttlMs } : {}),
    }
  }

  deleteOp(key: string, options?: DeleteOptions): Write {
    checkKey('key', key)
    return {
      collection: this.name,
      key,
      delete: true,
      ...(options?.ifVersion !== undefined ? { ifVersion: options.ifVersion } : {}),
    }
  }
}

class StoreTransaction implements Transaction {
  readonly writes: Write[] = []
  /** The version of every record read from the store, by `<collection>\0<key>`. */
  readonly checks = new Map<string, ReadCheck>()
  readonly drafts: EventDraft[] = []
  readonly #appended: Array<{ resolve: (r: JournalRecord) => void; reject: (e: unknown) => void }> = []

  /**
   * The writes to commit. The first write of a record the transaction read is made conditional on
   * the version it read, so that even a record read as absent cannot be created by two writers.
   */
  conditionalWrites(): Write[] {
    const seen = new Set<string>()
    return this.writes.map((write) => {
      const id = `${write.collection}\0${write.key}`
      const check = this.checks.get(id)
      const first = !seen.has(id)
      seen.add(id)
      if (!check || !first || write.ifVersion !== undefined) return write
      return { ...write, ifVersion: check.version }
    })
  }

  async get<T>(collection: Collection<T>, key: string): Promise<Entry<T> | undefined> {
    // The transaction's own last write to the key wins.
    for (let i = this.writes.length - 1; i >= 0; i--) {
      const write = this.writes[i]!
      if (write.collection !== collection.name || write.key !== key) continue
      if (write.delete) return undefined
      return { key, value: write.value as T, version: -1 }
    }
    const entry = await collection.entry(key)
    const id = `${collection.name}\0${key}`
    if (!this.checks.has(id))
      this.checks.set(id, { collection: collection.name, key, version: entry?.version ?? 0 })
    return entry
  }

  put<T>(collection: Collection<T>, key: string, value: T, options?: PutOptions): void {
    this.writes.push(collection.putOp(key, value, options))
  }

  delete<T>(collection: Collection<T>, key: string, options?: DeleteOptions): void {
    this.writes.push(collection.deleteOp(key, options))
  }

  append<P>(draft: EventDraft<P>): Promise<JournalRecord> {
    this.drafts.push(draft as EventDraft)
    const appended = new Promise<JournalRecord>((resolve, reject) => {
      this.#appended.push({ resolve, reject })
    })
    // A caller that only awaits the transaction must not see an unhandled rejection.
    appended.catch(() => {})
    return appended
  }

  abandon(error: unknown): void {
    for (const waiter of this.#appended) waiter.reject(error)
  }

  settle(records: Array<Promise<JournalRecord>>): void {
    records.forEach((record, i) => {
      const waiter = this.#appended[i]!
      record.then(waiter.resolve, waiter.reject)
    })
  }
}
