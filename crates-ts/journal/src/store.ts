import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { type Database, open, type RootDatabase } from 'lmdb'

/**
 * How far a write must get before it is acknowledged.
 * - `commit`: the LMDB transaction is committed to the OS. The record survives the process being
 *   killed. A power loss or kernel crash can take the records of the last COMMIT_SYNC_INTERVAL_MS,
 *   and LMDB does not promise a consistent file after one (its MDB_NOSYNC caveat).
 * - `fsync`: also flushed to stable storage. Survives power loss; costs a disk flush per batch.
 */
export type Durability = 'commit' | 'fsync'

/** In `commit` mode, how often the OS is asked to write committed pages to disk. */
export const COMMIT_SYNC_INTERVAL_MS = 1000

export interface StoreOptions {
  /** Directory holding the LMDB environment; created when missing. */
  dir: string
  durability?: Durability
  /** Virtual address space reserved for the map; grows automatically on Linux. */
  mapSize?: number
}

/** A typed named sub-database. Writes resolve when durable under the store's durability. */
export interface Collection<T> {
  readonly name: string
  get(key: string): T | undefined
  put(key: string, value: T): Promise<void>
  remove(key: string): Promise<void>
  /** Entries whose keys start with `prefix`, in key order. */
  range(prefix?: string, limit?: number): Array<{ key: string; value: T }>
  /** Runs a read-modify-write atomically (lmdb transactionSync). */
  update(key: string, fn: (current: T | undefined) => T | undefined): Promise<T | undefined>
  /**
   * Issues a put (or, for undefined, a removal) without waiting for durability: inside a journal
   * batch it joins that batch's transaction (see Journal.append's `writes`).
   */
  stage(key: string, value: T | undefined): Promise<unknown>
}

/** A collection write committed together with a journal record (Journal.append). */
export interface StoreWrite<T = unknown> {
  collection: Collection<T>
  key: string
  /** undefined removes the key. */
  value: T | undefined
}

/**
 * The embedded storage port: one LMDB environment with named collections. The journal and every
 * area's read-models live here; a shared backend later implements the same interface.
 */
export class Store {
  readonly dir: string
  readonly durability: Durability
  readonly root: RootDatabase
  #collections = new Map<string, Collection<unknown>>()
  #syncTimer: NodeJS.Timeout | undefined

  private constructor(dir: string, durability: Durability, root: RootDatabase) {
    this.dir = dir
    this.durability = durability
    this.root = root
  }

  static open(options: StoreOptions): Store {
    mkdirSync(options.dir, { recursive: true })
    const durability = options.durability ?? 'commit'
    const root = open({
      path: join(options.dir, 'arw.lmdb'),
      maxDbs: 64,
      ...(durability === 'fsync'
        ? // Flushes run after each commit, off the writer lock; acknowledgement waits for them
          // (settle). Write promises resolve at commit, so the journal can start its next batch
          // while the last one is flushing.
          { overlappingSync: true, separateFlushed: true }
        : // Commits go to the OS without a flush: they survive the process being killed, and the
          // background sync below bounds what a power loss can take to the last interval.
          { noSync: true }),
      ...(options.mapSize ? { mapSize: options.mapSize } : {}),
    })
    const store = new Store(options.dir, durability, root)
    if (durability === 'commit') {
      // `sync` and `isOperational` exist on lmdb-js root databases but are missing from its types.
      const env = root as unknown as {
        isOperational(): boolean
        sync(callback: (error?: Error) => void): void
      }
      store.#syncTimer = setInterval(() => {
        if (env.isOperational()) env.sync(() => {})
      }, COMMIT_SYNC_INTERVAL_MS)
      store.#syncTimer.unref()
    }
    return store
  }

  /** Opens a raw LMDB sub-database (for the journal's own ordered-key layout). */
  database<V = unknown>(
    name: string,
    options: { encoding?: 'json' | 'string' | 'msgpack' | 'binary' } = {},
  ): Database<V, any> {
    return this.root.openDB<V, any>({ name, encoding: options.encoding ?? 'msgpack' })
  }

  /** Waits until a write batch is durable in the configured sense. */
  settle(write: Promise<unknown>): Promise<unknown> {
    if (this.durability === 'commit') return write
    return write.then(() => this.root.flushed)
  }

  collection<T>(name: string): Collection<T> {
    const existing = this.#collections.get(name)
    if (existing) return existing as Collection<T>
    const db = this.database<T>(`c:${name}`)
    const store = this
    const collection: Collection<T> = {
      name,
      get: (key) => db.get(key),
      put: async (key, value) => {
        await store.settle(db.put(key, value))
      },
      remove: async (key) => {
        await store.settle(db.remove(key))
      },
      stage: (key, value) => (value === undefined ? db.remove(key) : db.put(key, value)),
      range(prefix = '', limit = Number.POSITIVE_INFINITY) {
        const out: Array<{ key: string; value: T }> = []
        const options = prefix ? { start: prefix, end: prefix + '\uffff' } : {}
        for (const { key, value } of db.getRange(options)) {
          if (out.length >= limit) break
          out.push({ key: key as string, value })
        }
        return out
      },
      async update(key, fn) {
        let result: T | undefined
        const write = db.transaction(() => {
          result = fn(db.get(key))
          if (result === undefined) db.removeSync(key)
          else db.putSync(key, result)
        })
        await store.settle(write)
        return result
      },
    }
    this.#collections.set(name, collection as Collection<unknown>)
    return collection
  }

  async close(): Promise<void> {
    clearInterval(this.#syncTimer)
    await this.root.close()
  }
}
