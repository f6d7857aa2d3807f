import type { EventEnvelope, ProblemError } from '@arw/protocol'
import type { CollectionSpec, Durability, JournalRecord, Write } from './port.ts'
import type { JournalRetention } from './retention.ts'

/** How a record's JSON starts before its commit numbers it; the rest of the text is final. */
export const ID_PLACEHOLDER = '{"id":0,'

/** A record as a backend stores it; `expiresAt` is undefined for records without a TTL. */
export interface StoredRecord {
  readonly key: string
  readonly value: unknown
  readonly version: number
  readonly expiresAt: number | undefined
}

/** A record read by a transaction, which must still have this version when it commits (0: absent). */
export interface ReadCheck {
  readonly collection: string
  readonly key: string
  readonly version: number
}

/**
 * The writes of one call (an append with writes, a collection write, a transaction): committed
 * together or refused together, without failing the other units of its batch. The backend sets
 * `error` on a refused unit and `versions` (one per write, 0 for a delete) on an accepted one.
 */
export interface Unit {
  readonly writes: readonly Write[]
  readonly checks: readonly ReadCheck[]
  /** Its journal records, also listed (in call order) in the batch's `records`. */
  readonly records: readonly JournalRecord[]
  error: ProblemError | undefined
  versions: number[] | undefined
}

/**
 * One commit: every record appended and every unit submitted in one event-loop turn. Records that
 * belong to no unit cannot be refused one by one; a unit's records are dropped with it.
 */
export interface CommitBatch {
  readonly records: readonly JournalRecord[]
  readonly units: readonly Unit[]
  /** The records to commit: those of the units not refused (call once that is decided). */
  kept(): readonly JournalRecord[]
  /**
   * Numbers the kept records from `first`, and writes their ids into their JSON, whose text
   * starts with ID_PLACEHOLDER until then. The backend calls it once.
   */
  seal(first: number): readonly JournalRecord[]
}

/** A journal line as stored: the record's id and its JSON. */
export interface Line {
  readonly id: number
  readonly json: string
}

/**
 * What a storage backend implements; the Journal, collections and transactions are built on it
 * once, in store.ts and journal.ts, so both backends keep the same semantics.
 */
export interface Backend {
  readonly kind: 'lmdb' | 'postgres'
  readonly durability: Durability
  /** Highest journal id committed when the backend was opened. */
  readonly head: number
  /**
   * The oldest journal id still stored (head + 1 when none is): 1 unless retention removed older
   * ones. Read at open and moved on by `retain`.
   */
  readonly oldest: number
  /**
   * Commits the batch atomically (records, accepted units' writes, the journal head), refusing
   * single units whose conditions fail. Resolves once committed; rejects when nothing of it is.
   */
  commit(batch: CommitBatch): Promise<void>
  /** True when a commit must also wait for `flushed` before it is durable (LMDB fsync mode). */
  readonly flushes: boolean
  /** Resolves once everything committed so far is on stable storage. */
  flushed(): Promise<void>
  /** A committed record, in id order (LMDB keeps its trace and task index off the commit path). */
  indexed(event: EventEnvelope, id: number): void
  /** Journal lines with `from <= id <= to`, oldest first, at most `limit`. */
  lines(from: number, to: number, limit: number): Promise<Line[]>
  /** Ids of the records of a trace or task, oldest first. */
  lookup(by: 'trace' | 'task', id: string, limit: number): Promise<number[]>
  /**
   * Removes the oldest records the rule lets go, none above `newest`, in whole chunks of at most
   * about RETENTION_CHUNK records per write, checking `signal` between chunks. Resolves with the
   * number removed. Trace and task lookups no longer return removed ids.
   */
  retain(rule: JournalRetention, now: number, newest: number, signal: AbortSignal): Promise<number>
  /** Called once per collection, before its first use. */
  declare(spec: CollectionSpec<unknown>, name: string): void
  get(collection: string, key: string): Promise<StoredRecord | undefined>
  /** Records with keys after `after` starting with `prefix`, in key order, at most `limit`. */
  list(collection: string, prefix: string, after: string | undefined, limit: number): Promise<StoredRecord[]>
  find(
    collection: string,
    index: string,
    value: string,
    after: string | undefined,
    limit: number,
  ): Promise<StoredRecord[]>
  /** Records whose TTL ended at or before `now`, at most `limit`. */
  expired(now: number, limit: number): Promise<Array<{ collection: string; key: string; version: number }>>
  close(): Promise<void>
}

/** The indexes a backend maintains for a collection, by full collection name. */
export type IndexesOf = (collection: string) => CollectionSpec<unknown>['indexes']
