import type { EventDraft, EventEnvelope, Page } from '@arw/protocol'

/**
 * How far a write must get before it is acknowledged.
 * - `commit`: committed by the backend without waiting for a disk flush. On LMDB the transaction is
 *   committed to the OS (it survives the process being killed; a power loss can take the last
 *   COMMIT_SYNC_INTERVAL_MS). On PostgreSQL `synchronous_commit` is off (it survives the daemon
 *   being killed; a crash of the database server can take its last few hundred milliseconds).
 * - `fsync`: also flushed to stable storage before the acknowledgement.
 */
export type Durability = 'commit' | 'fsync'

/** A secondary index, kept in the same transaction as the records it points at. */
export interface IndexSpec<T> {
  readonly name: string
  /** A second record with the same value is refused with a `conflict` problem, never overwritten. */
  readonly unique?: boolean
  /** The value the record is found under; `undefined` leaves the record out of this index. */
  readonly of: (value: T) => string | undefined
}

/** A collection is declared once, with its indexes, in the area that owns it. */
export interface CollectionSpec<T> {
  /** The owning area: collections of different areas never share keys (`<area>/<name>`). */
  readonly area: string
  readonly name: string
  readonly indexes?: readonly IndexSpec<T>[]
  /** Where this collection's records were kept in LMDB state directories older than the port. */
  readonly formerly?: FormerCollection<T>
}

/**
 * A collection of an LMDB state directory written before the storage port (a `c:<name>`
 * sub-database of raw values): its entries are moved into the new collection, once, when it is
 * first opened, as version 1.
 */
export interface FormerCollection<T> {
  readonly name: string
  /** Maps an old entry to the new record (keys may have changed shape); undefined drops it. */
  readonly convert?: (
    key: string,
    value: unknown,
  ) => { key: string; value: T; expiresAt?: number } | undefined
}

/** A stored record with its version (1 on the first put, +1 on every later one). */
export interface Entry<T> {
  readonly key: string
  readonly value: T
  readonly version: number
  /** Unix milliseconds after which the record is no longer returned; absent: no expiry. */
  readonly expiresAt?: number
}

export interface PutOptions {
  /** Write only when the record's current version is this (0: only when there is none). */
  readonly ifVersion?: number
  /** The record expires this long after the write. */
  readonly ttlMs?: number
}

export interface DeleteOptions {
  readonly ifVersion?: number
}

export interface ListOptions {
  /** Only keys starting with this. */
  readonly prefix?: string
  /** A `next_cursor` of an earlier page. */
  readonly cursor?: string
  /** At most MAX_PAGE_SIZE; DEFAULT_PAGE_SIZE when absent. */
  readonly limit?: number
}

export const DEFAULT_PAGE_SIZE = 100
export const MAX_PAGE_SIZE = 1000

/**
 * A collection write as data, so a caller can hand it to `journal.append` (or a transaction) and
 * it commits with the record, in the same batch. `collection` is the full name (`Collection.name`).
 */
export type Write =
  | {
      readonly collection: string
      readonly key: string
      readonly value: unknown
      readonly ifVersion?: number
      readonly ttlMs?: number
      readonly delete?: undefined
    }
  | {
      readonly collection: string
      readonly key: string
      readonly delete: true
      readonly ifVersion?: number
      /** @internal The expiry sweep: delete only while the record still has this version. */
      readonly ifExpiredVersion?: number
    }

/** A typed collection of one area. Every method is async; writes resolve once durable. */
export interface Collection<T> {
  /** `<area>/<name>`. */
  readonly name: string
  get(key: string): Promise<T | undefined>
  entry(key: string): Promise<Entry<T> | undefined>
  /** Resolves with the record's new version. */
  put(key: string, value: T, options?: PutOptions): Promise<number>
  delete(key: string, options?: DeleteOptions): Promise<void>
  /** Records in key order (UTF-8 byte order), a page at a time. */
  list(options?: ListOptions): Promise<Page<Entry<T>>>
  /** Records whose index `index` holds `value`, in key order. */
  find(index: string, value: string, options?: Omit<ListOptions, 'prefix'>): Promise<Page<Entry<T>>>
  /** The write `put` would issue, as data (for `journal.append` or a transaction). */
  putOp(key: string, value: T, options?: PutOptions): Write
  deleteOp(key: string, options?: DeleteOptions): Write
}

/** A committed journal entry: the envelope and its serialized form (serialized once, sent as is). */
export interface JournalRecord {
  readonly id: number
  readonly kind: string
  readonly json: string
  readonly event: EventEnvelope
}

/**
 * Reads and writes that commit together or not at all. Reads see the transaction's own writes; a
 * record it read that someone else changes before the commit makes the commit fail with `conflict`
 * (optimistic concurrency), so the callback can be retried.
 */
export interface Transaction {
  get<T>(collection: Collection<T>, key: string): Promise<Entry<T> | undefined>
  put<T>(collection: Collection<T>, key: string, value: T, options?: PutOptions): void
  delete<T>(collection: Collection<T>, key: string, options?: DeleteOptions): void
  /** Settles with the transaction: do not await it inside the callback. */
  append<P>(draft: EventDraft<P>): Promise<JournalRecord>
}
