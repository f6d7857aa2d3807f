import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { ERRORS, type EventEnvelope, ProblemError } from '@arw/protocol'
import { type Database, open, type RootDatabase } from 'lmdb'
import type { Backend, CommitBatch, Line, ReadCheck, StoredRecord, Unit } from '../backend.ts'
import type { CollectionSpec, Durability, Write } from '../port.ts'
import { ageCut, type JournalRetention, RETENTION_CHUNK, timeOfLine } from '../retention.ts'
import { LMDB_FILE } from './file.ts'
import { SegmentIndex, type SegmentStore, taskKey, traceKey } from './segment-index.ts'

const COMMITTED: Promise<void> = Promise.resolve()

/** In `commit` mode, how often the OS is asked to write committed pages to disk. */
export const COMMIT_SYNC_INTERVAL_MS = 1000

export interface LmdbOptions {
  /** Directory holding the LMDB environment (`arw.lmdb`); created when missing. */
  dir: string
  durability: Durability
  mapSize?: number
  indexSegmentSize?: number
}

/** A record as stored: version, value, and expiry (unix ms) when it has a TTL. */
interface Envelope {
  v: number
  d: unknown
  x?: number
}

// The layout of the environment. `journal` and its index are as they were before the storage port
// (keys: first id of a batch; values: its records as JSON lines), so older state directories open
// as they are. Records and index entries are keyed `<collection>\0<key>` and
// `<collection>\0<index>\0<value>\0<key>`, expiry entries `<expiresAt, 15 digits>\0<collection>\0<key>`,
// each stored as its UTF-8 bytes (`keyEncoding: 'binary'`): LMDB compares keys as bytes, so a
// range is exactly the keys under a prefix and lists come in UTF-8 byte order, the order PostgreSQL
// lists them in too. (The first release of the port let lmdb-js encode these keys as strings: its
// encoding writes NUL escaped in a short key and raw in a long one, so long keys sorted before
// short ones. `#upgradeStringKeys` moves such a state directory to this layout when it opens.)
const SEP = '\0'
const RECORDS = 'records.v2'
const INDEXES = 'indexes.v2'
const EXPIRY = 'expiry.v2'

/** A key as stored. */
function bytes(key: string): Buffer {
  return Buffer.from(key, 'utf8')
}

/** Just past every key starting with `prefix`: 0xFF never occurs in UTF-8. */
function pastPrefix(prefix: string): Buffer {
  const start = bytes(prefix)
  const end = Buffer.allocUnsafe(start.length + 1)
  start.copy(end)
  end[start.length] = 0xff
  return end
}

/** A key as lmdb-js's string encoding (the first layout) read it back: parts of a long key come as an array. */
function keyText(key: unknown): string {
  if (typeof key === 'string') return key
  if (Array.isArray(key)) return key.map(String).join(SEP)
  return String(key)
}

export function openLmdb(options: LmdbOptions): LmdbBackend {
  mkdirSync(options.dir, { recursive: true })
  const root = open({
    path: join(options.dir, LMDB_FILE),
    maxDbs: 64,
    ...(options.durability === 'fsync'
      ? // Flushes run after each commit, off the writer lock; acknowledgement waits for them
        // (flushed). Write promises resolve at commit, so the journal can start its next batch
        // while the last one is flushing.
        { overlappingSync: true, separateFlushed: true }
      : // Commits go to the OS without a flush: they survive the process being killed, and the
        // background sync below bounds what a power loss can take to the last interval.
        { noSync: true }),
    ...(options.mapSize ? { mapSize: options.mapSize } : {}),
  })
  return new LmdbBackend(root, options)
}

/**
 * The embedded backend: one LMDB environment, one writer (this process). Because one commit is in
 * flight at a time and nothing else writes, the committed state read when a batch is planned is
 * the state its commit applies to: conditions are checked then, with plain reads, and the batch
 * is still one asynchronous lmdb write off the main thread.
 */
export class LmdbBackend implements Backend {
  readonly kind = 'lmdb'
  readonly durability: Durability
  readonly flushes: boolean
  readonly head: number
  oldest: number
  readonly root: RootDatabase
  readonly #events: Database<string, number>
  readonly #records: Database<Envelope, Buffer>
  readonly #indexes: Database<string, Buffer>
  readonly #expiry: Database<string, Buffer>
  readonly #index: SegmentIndex
  readonly #specs = new Map<string, CollectionSpec<unknown>>()
  #last: number
  #syncTimer: NodeJS.Timeout | undefined
  /** The background flush in flight: closing the environment under it crashes the process. */
  #syncing: Promise<void> | undefined

  constructor(root: RootDatabase, options: LmdbOptions) {
    this.root = root
    this.durability = options.durability
    this.flushes = options.durability === 'fsync'
    this.#events = root.openDB<string, number>({ name: 'journal', encoding: 'string' })
    this.#records = root.openDB<Envelope, Buffer>({
      name: RECORDS,
      encoding: 'msgpack',
      keyEncoding: 'binary',
    })
    this.#indexes = root.openDB<string, Buffer>({ name: INDEXES, encoding: 'string', keyEncoding: 'binary' })
    this.#expiry = root.openDB<string, Buffer>({ name: EXPIRY, encoding: 'string', keyEncoding: 'binary' })
    this.#upgradeStringKeys()
    let last = 0
    for (const { key, value } of this.#events.getRange({ reverse: true, limit: 1 }))
      last = (key as number) + lineCount(value) - 1
    this.head = last
    this.#last = last
    let oldest = last + 1
    for (const key of this.#events.getKeys({ limit: 1 })) oldest = key as number
    this.oldest = oldest
    const segments = {
      postings: root.openDB<string, string>({ name: 'journal_postings', encoding: 'string' }),
      filters: root.openDB<Uint8Array, string>({ name: 'journal_filters', encoding: 'binary' }),
    } as unknown as SegmentStore
    this.#index = new SegmentIndex(
      segments,
      last,
      oldest,
      (from, to) => this.#parsed(from, to),
      options.indexSegmentSize,
      !this.flushes,
    )
    if (options.durability === 'commit') {
      // `sync` and `isOperational` exist on lmdb-js root databases but are missing from its types.
      const env = root as unknown as {
        isOperational(): boolean
        sync(callback: (error?: Error) => void): void
      }
      this.#syncTimer = setInterval(() => {
        if (this.#syncing || !env.isOperational()) return
        this.#syncing = new Promise<void>((resolve) => env.sync(() => resolve())).finally(() => {
          this.#syncing = undefined
        })
      }, COMMIT_SYNC_INTERVAL_MS)
      this.#syncTimer.unref()
    }
  }

  /**
   * Moves the records, index entries and expiry entries of the first layout (string-encoded keys,
   * sub-databases `records`, `indexes`, `expiry`) to the byte-keyed ones, in one transaction: the
   * same keys and values, now in byte order. A reopen finds the old sub-databases empty.
   */
  #upgradeStringKeys(): void {
    const moves = [
      {
        from: this.root.openDB<unknown, string>({ name: 'records', encoding: 'msgpack' }),
        to: this.#records,
      },
      { from: this.root.openDB<unknown, string>({ name: 'indexes', encoding: 'string' }), to: this.#indexes },
      { from: this.root.openDB<unknown, string>({ name: 'expiry', encoding: 'string' }), to: this.#expiry },
    ] as Array<{ from: Database<unknown, string>; to: Database<unknown, Buffer> }>
    if (moves.every(({ from }) => from.getKeysCount() === 0)) return
    this.root.transactionSync(() => {
      for (const { from, to } of moves) {
        for (const { key, value } of from.getRange({})) to.putSync(bytes(keyText(key)), value)
        from.clearSync()
      }
    })
  }

  /** A raw sub-database of the environment (tests of the on-disk layout). */
  database<V = unknown>(name: string, encoding: 'json' | 'string' | 'msgpack' | 'binary' = 'msgpack') {
    return this.root.openDB<V, any>({ name, encoding })
  }

  declare(spec: CollectionSpec<unknown>, name: string): void {
    this.#specs.set(name, spec)
    if (spec.formerly === undefined) return
    // Before the storage port a collection was a sub-database `c:<name>` of raw values.
    const { name: former, convert } = spec.formerly
    const legacy = this.root.openDB<unknown, string>({ name: `c:${former}`, encoding: 'msgpack' })
    if (legacy.getKeysCount() === 0) return
    this.root.transactionSync(() => {
      for (const entry of legacy.getRange({})) {
        const moved = convert
          ? convert(keyText(entry.key), entry.value)
          : { key: keyText(entry.key), value: entry.value }
        if (moved === undefined) continue
        const recordKey = bytes(name + SEP + moved.key)
        if (this.#records.get(recordKey) !== undefined) continue
        const envelope: Envelope = { v: 1, d: moved.value }
        if (moved.expiresAt !== undefined) {
          envelope.x = moved.expiresAt
          this.#expiry.putSync(bytes(expiryKey(moved.expiresAt, name, moved.key)), '')
        }
        this.#records.putSync(recordKey, envelope)
        for (const index of spec.indexes ?? []) {
          const indexed = index.of(moved.value)
          if (indexed !== undefined)
            this.#indexes.putSync(bytes(indexKey(name, index.name, indexed, moved.key)), '')
        }
      }
      legacy.clearSync()
    })
  }

  commit(batch: CommitBatch): Promise<void> {
    const ops = batch.units.length > 0 ? this.#plan(batch.units) : undefined
    const first = this.#last + 1
    const sealed = batch.seal(first)
    const value =
      sealed.length === 0
        ? undefined
        : sealed.length === 1
          ? sealed[0]!.json
          : sealed.map((r) => r.json).join('\n')
    if (!this.flushes) {
      // `commit` durability: the batch is one synchronous transaction on this thread. Without a
      // flush to wait for, handing it to lmdb-js's writer thread and back costs more (about 60 µs
      // of CPU per commit, and a thread wake-up both ways) than the commit itself (about 30 µs),
      // so a lone caller's call got twice as slow and a loaded machine queued calls behind the
      // writer thread's scheduling. A failed commit throws here, before any id is taken.
      this.root.transactionSync(() => {
        if (ops) for (const op of ops) op()
        if (value !== undefined) this.#events.put(first, value)
      })
      this.#last += sealed.length
      return COMMITTED
    }
    // `fsync`: an explicit lmdb batch, whose writes share one transaction that commits as soon as
    // the block is written; the flush runs on the writer thread, off this one (see `flushed`).
    const written = this.#events.batch(() => {
      if (ops) for (const op of ops) op()
      if (value !== undefined) this.#events.put(first, value)
    })
    return written.then(() => {
      this.#last += sealed.length
    })
  }

  /**
   * Checks each unit's conditions against the committed state and the units accepted before it
   * in this batch, and returns the writes of the accepted ones; refused units get their `error`.
   */
  #plan(units: readonly Unit[]): Array<() => void> {
    const now = Date.now()
    const ops: Array<() => void> = []
    const batchRecords = new Map<string, Envelope | null>()
    const batchClaims = new Map<string, string | null>()
    for (const unit of units) {
      const plan = new UnitPlan(this, batchRecords, batchClaims, now)
      try {
        for (const check of unit.checks) plan.check(check)
        unit.versions = unit.writes.map((write) => plan.write(write, this.#specs.get(write.collection)))
      } catch (error) {
        if (!(error instanceof ProblemError)) throw error
        unit.error = error
        unit.versions = undefined
        continue
      }
      for (const [key, envelope] of plan.records) batchRecords.set(key, envelope)
      for (const [key, owner] of plan.claims) batchClaims.set(key, owner)
      for (const op of plan.ops) ops.push(op)
    }
    return ops
  }

  /** @internal for UnitPlan */
  stored(recordKey: string): Envelope | undefined {
    return this.#records.get(bytes(recordKey))
  }

  /** @internal for UnitPlan: the keys of the records holding `value` in an index. */
  holders(collection: string, index: string, value: string): string[] {
    return this.#indexed(collection + SEP + index + SEP + value + SEP, undefined, Number.POSITIVE_INFINITY)
  }

  /** The record keys of the index entries under `prefix` (`<collection>\0<index>\0<value>\0`) after `after`, at most `limit`, in key order. */
  #indexed(prefix: string, after: string | undefined, limit: number): string[] {
    const found: string[] = []
    const range = { start: bytes(prefix + (after ?? '')), end: pastPrefix(prefix) }
    for (const key of this.#indexes.getKeys(range)) {
      const own = (key as Buffer).toString('utf8', Buffer.byteLength(prefix))
      if (own === after) continue
      found.push(own)
      if (found.length >= limit) break
    }
    return found
  }

  /** @internal for UnitPlan */
  put(kind: 'records' | 'indexes' | 'expiry', key: string, value?: Envelope): () => void {
    const stored = bytes(key)
    if (kind === 'records') return () => void this.#records.put(stored, value!)
    const db = kind === 'indexes' ? this.#indexes : this.#expiry
    return () => void db.put(stored, '')
  }

  /** @internal for UnitPlan */
  remove(kind: 'records' | 'indexes' | 'expiry', key: string): () => void {
    const db = kind === 'records' ? this.#records : kind === 'indexes' ? this.#indexes : this.#expiry
    const stored = bytes(key)
    return () => void db.remove(stored)
  }

  flushed(): Promise<void> {
    return (this.root.flushed as Promise<unknown>).then(() => {})
  }

  indexed(event: EventEnvelope, id: number): void {
    this.#index.add(event, id)
  }

  /** Stored records with `from <= id <= to`, oldest first, as their JSON lines. */
  *#lines(from: number, to: number): Iterable<Line> {
    if (from > to) return
    // The batch holding `from` starts at the greatest key not above it.
    let start = from
    for (const key of this.#events.getKeys({ start: from, reverse: true, limit: 1 })) start = key as number
    for (const { key, value } of this.#events.getRange({ start, end: to + 1 })) {
      let id = key as number
      let at = 0
      while (id <= to) {
        const end = value.indexOf('\n', at)
        if (id >= from) yield { id, json: end === -1 ? value.slice(at) : value.slice(at, end) }
        if (end === -1) break
        at = end + 1
        id++
      }
    }
  }

  *#parsed(from: number, to: number): Iterable<{ id: number; event: EventEnvelope }> {
    for (const { id, json } of this.#lines(from, to)) yield { id, event: JSON.parse(json) as EventEnvelope }
  }

  async lines(from: number, to: number, limit: number): Promise<Line[]> {
    const out: Line[] = []
    if (limit <= 0) return out
    for (const line of this.#lines(from, to)) {
      out.push(line)
      if (out.length >= limit) break
    }
    return out
  }

  /**
   * Journal keys are commits (a first id and its records as lines), so retention removes whole
   * commits: chunks of them from the oldest key, each chunk one write, with the trace and task
   * index segments that hold only removed ids. The size is the pages the journal and its index
   * occupy in the environment (freed pages are reused by later writes; the file does not shrink,
   * `arw backup` writes a compacted copy).
   */
  async retain(rule: JournalRetention, now: number, newest: number, signal: AbortSignal): Promise<number> {
    const cutoff = rule.maxAgeMs === undefined ? undefined : new Date(now - rule.maxAgeMs).toISOString()
    const old =
      cutoff === undefined
        ? 0
        : await ageCut(this.oldest, newest, cutoff, async (id) => {
            for (const line of this.#lines(id, id)) return timeOfLine(line.json)
            return undefined
          })
    let removed = 0
    while (!signal.aborted) {
      const over = rule.maxBytes !== undefined && this.journalBytes() > rule.maxBytes
      const upTo = over ? newest : Math.min(old, newest)
      const keys: number[] = []
      let to = 0
      for (const { key, value } of this.#events.getRange({ start: this.oldest, end: upTo + 1 })) {
        const last = (key as number) + lineCount(value) - 1
        if (last > upTo || (keys.length > 0 && last - this.oldest + 1 > RETENTION_CHUNK)) break
        keys.push(key as number)
        to = last
      }
      if (keys.length === 0) break
      const segments = this.#index.retire(to + 1)
      await this.#events.batch(() => {
        for (const key of keys) this.#events.remove(key)
        segments()
      })
      removed += to - this.oldest + 1
      this.oldest = to + 1
    }
    return removed
  }

  /** Bytes of the pages the journal and its index occupy. */
  journalBytes(): number {
    let pages = 0
    let size = 0
    for (const db of [this.#events, ...this.#index.databases()]) {
      const stats = db.getStats() as {
        pageSize: number
        treeBranchPageCount: number
        treeLeafPageCount: number
        overflowPages: number
      }
      size = stats.pageSize
      pages += stats.treeBranchPageCount + stats.treeLeafPageCount + stats.overflowPages
    }
    return pages * size
  }

  async lookup(by: 'trace' | 'task', id: string, limit: number): Promise<number[]> {
    return this.#index.lookup(by === 'trace' ? traceKey(id) : taskKey(id), limit)
  }

  async get(collection: string, key: string): Promise<StoredRecord | undefined> {
    return this.#live(key, this.#records.get(bytes(collection + SEP + key)), Date.now())
  }

  #live(key: string, envelope: Envelope | undefined, now: number): StoredRecord | undefined {
    if (envelope === undefined || (envelope.x !== undefined && envelope.x <= now)) return undefined
    return { key, value: envelope.d, version: envelope.v, expiresAt: envelope.x }
  }

  async list(
    collection: string,
    prefix: string,
    after: string | undefined,
    limit: number,
  ): Promise<StoredRecord[]> {
    const base = collection + SEP
    const range = {
      start: bytes(base + (after?.startsWith(prefix) ? after : prefix)),
      end: pastPrefix(base + prefix),
    }
    const out: StoredRecord[] = []
    const now = Date.now()
    const skip = Buffer.byteLength(base)
    for (const { key, value } of this.#records.getRange(range)) {
      const own = (key as Buffer).toString('utf8', skip)
      if (own === after) continue
      const record = this.#live(own, value, now)
      if (record) out.push(record)
      if (out.length >= limit) break
    }
    return out
  }

  async find(
    collection: string,
    index: string,
    value: string,
    after: string | undefined,
    limit: number,
  ): Promise<StoredRecord[]> {
    const prefix = collection + SEP + index + SEP + value + SEP
    const out: StoredRecord[] = []
    const now = Date.now()
    // Expired records are skipped: read past them in chunks until the page is full.
    let from = after
    for (;;) {
      const keys = this.#indexed(prefix, from, limit)
      for (const own of keys) {
        const record = this.#live(own, this.#records.get(bytes(collection + SEP + own)), now)
        if (record) out.push(record)
        if (out.length >= limit) return out
      }
      if (keys.length < limit) return out
      from = keys[keys.length - 1]
    }
  }

  async expired(
    now: number,
    limit: number,
  ): Promise<Array<{ collection: string; key: string; version: number }>> {
    const out: Array<{ collection: string; key: string; version: number }> = []
    for (const entry of this.#expiry.getKeys({ end: bytes(expiryStamp(now) + '\x01') })) {
      const full = (entry as Buffer).toString('utf8')
      const a = full.indexOf(SEP)
      const b = full.indexOf(SEP, a + 1)
      const collection = full.slice(a + 1, b)
      const key = full.slice(b + 1)
      const envelope = this.#records.get(bytes(collection + SEP + key))
      if (envelope) out.push({ collection, key, version: envelope.v })
      else void this.#expiry.remove(entry as Buffer)
      if (out.length >= limit) break
    }
    return out
  }

  async close(): Promise<void> {
    clearInterval(this.#syncTimer)
    await this.#syncing
    await this.#index.flush()
    await this.root.close()
  }
}

/** The staged effects of one unit, checked against the batch so far and the committed state. */
class UnitPlan {
  readonly records = new Map<string, Envelope | null>()
  readonly claims = new Map<string, string | null>()
  readonly ops: Array<() => void> = []
  readonly #db: LmdbBackend
  readonly #batchRecords: Map<string, Envelope | null>
  readonly #batchClaims: Map<string, string | null>
  readonly #now: number

  constructor(
    db: LmdbBackend,
    batchRecords: Map<string, Envelope | null>,
    batchClaims: Map<string, string | null>,
    now: number,
  ) {
    this.#db = db
    this.#batchRecords = batchRecords
    this.#batchClaims = batchClaims
    this.#now = now
  }

  #stored(recordKey: string): Envelope | undefined {
    const own = this.records.get(recordKey)
    if (own !== undefined) return own ?? undefined
    const batch = this.#batchRecords.get(recordKey)
    if (batch !== undefined) return batch ?? undefined
    return this.#db.stored(recordKey)
  }

  #liveVersion(envelope: Envelope | undefined): number {
    if (envelope === undefined || (envelope.x !== undefined && envelope.x <= this.#now)) return 0
    return envelope.v
  }

  /** Who holds `value` in a unique index: a live record other than `key`, or undefined. */
  #owner(collection: string, index: string, value: string, key: string): string | undefined {
    const claim = collection + SEP + index + SEP + value
    for (const claims of [this.claims, this.#batchClaims]) {
      const owner = claims.get(claim)
      if (owner !== undefined) return owner === key ? undefined : (owner ?? undefined)
    }
    // An expired record keeps its index entry until the sweep deletes it, but holds nothing.
    return this.#db
      .holders(collection, index, value)
      .find((holder) => holder !== key && this.#liveVersion(this.#stored(collection + SEP + holder)) !== 0)
  }

  check(check: ReadCheck): void {
    const version = this.#liveVersion(this.#stored(check.collection + SEP + check.key))
    if (version !== check.version)
      throw new ProblemError(ERRORS.version_conflict, {
        collection: check.collection,
        expected: check.version,
      })
  }

  /** Stages one write; returns the record's new version (0 for a delete). */
  write(write: Write, spec: CollectionSpec<unknown> | undefined): number {
    const { collection, key } = write
    const recordKey = collection + SEP + key
    const stored = this.#stored(recordKey)
    const live = this.#liveVersion(stored)
    if (write.ifVersion !== undefined && write.ifVersion !== live)
      throw new ProblemError(ERRORS.version_conflict, { collection, expected: write.ifVersion })
    if (write.delete && write.ifExpiredVersion !== undefined) {
      // The sweep: only a record still expired, at the version it saw.
      if (stored === undefined || stored.v !== write.ifExpiredVersion || live !== 0)
        throw new ProblemError(ERRORS.version_conflict, { collection, expected: write.ifExpiredVersion })
    }
    const value = write.delete ? undefined : write.value
    for (const index of spec?.indexes ?? []) {
      const before = stored === undefined ? undefined : index.of(stored.d)
      const after = value === undefined ? undefined : index.of(value)
      if (before === after) continue
      if (before !== undefined) {
        this.ops.push(this.#db.remove('indexes', indexKey(collection, index.name, before, key)))
        if (index.unique) this.claims.set(collection + SEP + index.name + SEP + before, null)
      }
      if (after !== undefined) {
        if (index.unique) {
          if (this.#owner(collection, index.name, after, key) !== undefined)
            throw new ProblemError(ERRORS.unique_conflict, { collection, index: index.name })
          this.claims.set(collection + SEP + index.name + SEP + after, key)
        }
        this.ops.push(this.#db.put('indexes', indexKey(collection, index.name, after, key)))
      }
    }
    if (stored?.x !== undefined)
      this.ops.push(this.#db.remove('expiry', expiryKey(stored.x, collection, key)))
    if (write.delete) {
      if (stored !== undefined) this.ops.push(this.#db.remove('records', recordKey))
      this.records.set(recordKey, null)
      return 0
    }
    const envelope: Envelope = { v: (stored?.v ?? 0) + 1, d: write.value }
    if (write.ttlMs !== undefined) {
      envelope.x = this.#now + write.ttlMs
      this.ops.push(this.#db.put('expiry', expiryKey(envelope.x, collection, key)))
    }
    this.ops.push(this.#db.put('records', recordKey, envelope))
    this.records.set(recordKey, envelope)
    return envelope.v
  }
}

function indexKey(collection: string, index: string, value: string, key: string): string {
  return collection + SEP + index + SEP + value + SEP + key
}

function expiryStamp(at: number): string {
  return String(at).padStart(15, '0')
}

function expiryKey(at: number, collection: string, key: string): string {
  return expiryStamp(at) + SEP + collection + SEP + key
}

function lineCount(value: string): number {
  let count = 1
  for (let at = value.indexOf('\n'); at !== -1; at = value.indexOf('\n', at + 1)) count++
  return count
}
