import type { EventDraft, EventEnvelope } from '@arw/protocol'
import type { Database } from 'lmdb'
import { SegmentIndex, type SegmentStore, taskKey, traceKey } from './segment-index.ts'
import type { Store, StoreWrite } from './store.ts'

/** A committed journal entry: the envelope and its serialized form (serialized once, sent as is). */
export interface JournalRecord {
  readonly id: number
  readonly kind: string
  readonly json: string
  readonly event: EventEnvelope
}

export type JournalListener = (record: JournalRecord) => void

/** How the journal's commits have gone since it was opened (reported by /healthz). */
export interface JournalHealth {
  /** The latest commit (or, in fsync mode, its flush) failed: calls are refused until one succeeds. */
  failing: boolean
  /** Commits or flushes that failed since the journal was opened. */
  commitFailures: number
  /** When the last one failed (RFC 3339). */
  lastFailureAt: string | undefined
}

/**
 * The records appended in one event-loop turn. They are written as one LMDB value under the id of
 * the first (JSON lines: JSON.stringify never emits a raw newline), so a burst of calls pays one
 * put instead of one each, and the batch commits atomically: after a crash the surviving records
 * are still a prefix. A value holding one line is the layout of a single record, so journals
 * written one record per key read the same.
 */
interface Batch {
  readonly first: number
  readonly records: JournalRecord[]
  /** Collection writes to issue in the same transaction as the batch (see `append`). */
  readonly writes: Array<{ write: StoreWrite; done?: Promise<unknown> }>
  readonly durable: Promise<void>
  settle(error?: unknown): void
  /** The turn that fills it is over: it is written as soon as no other commit is in flight. */
  due: boolean
  committed: boolean
}

/**
 * The append-only event journal. Sequence ids are assigned in call order, strictly increasing and
 * without holes: one batch commits at a time, in order, so after a crash the surviving records are
 * always a prefix, and a commit that fails (disk full) gives its ids back instead of leaving a hole
 * (see #write). `append` resolves only once its record is durable, and listeners see records
 * strictly in sequence order, only after they are durable. The trace and task index is kept off the
 * acknowledgement path (see SegmentIndex).
 */
export class Journal {
  readonly #store: Store
  readonly #events: Database<string, number>
  readonly #index: SegmentIndex
  #next: number
  #head: number
  /** The batch filling in this turn, written when the turn ends. */
  #open: Batch | undefined
  /** Written batches, oldest first, until they are durable and published. */
  #pending: Batch[] = []
  /** The batch whose commit is in flight; the next one waits for its outcome. */
  #committing: Batch | undefined
  #listeners = new Set<JournalListener>()
  #health: JournalHealth = { failing: false, commitFailures: 0, lastFailureAt: undefined }

  constructor(store: Store, options: { indexSegmentSize?: number } = {}) {
    this.#store = store
    this.#events = store.database<string>('journal', { encoding: 'string' }) as unknown as Database<
      string,
      number
    >
    let last = 0
    for (const { key, value } of this.#events.getRange({ reverse: true, limit: 1 }))
      last = (key as number) + lineCount(value) - 1
    this.#head = last
    this.#next = last + 1
    const segments = {
      postings: store.database<string>('journal_postings', { encoding: 'string' }),
      filters: store.database<Uint8Array>('journal_filters', { encoding: 'binary' }),
    } as unknown as SegmentStore
    this.#index = new SegmentIndex(
      segments,
      last,
      (from, to) => this.#records(from, to),
      options.indexSegmentSize,
    )
  }

  /** Stored records with `from <= id <= to`, oldest first, as their JSON lines. */
  *#lines(from: number, to: number): Iterable<{ id: number; json: string }> {
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

  *#records(from: number, to: number): Iterable<{ id: number; event: EventEnvelope }> {
    for (const { id, json } of this.#lines(from, to)) yield { id, event: JSON.parse(json) as EventEnvelope }
  }

  get health(): Readonly<JournalHealth> {
    return this.#health
  }

  /** Highest sequence id that is durable (and has been published). */
  get head(): number {
    return this.#head
  }

  /**
   * Appends an event; resolves with its record once durable. `writes` are collection writes of the
   * same store committed in the same transaction as the record (an idempotent call's stored answer,
   * what a settle stage reserved), so neither is ever committed without the other; the append then
   * also waits for them.
   */
  append<P>(draft: EventDraft<P>, writes?: readonly StoreWrite[]): Promise<JournalRecord> {
    const id = this.#next
    const event: EventEnvelope<P> = { id, time: isoNow(), ...draft }
    // Serialized before the id is taken: a payload JSON cannot represent must not leave a hole.
    const record: JournalRecord = {
      id,
      kind: draft.kind,
      json: JSON.stringify(event),
      event: event as EventEnvelope,
    }
    this.#next++
    const batch = this.#open ?? this.#openBatch(id)
    batch.records.push(record)
    const durable = batch.durable.then(() => record)
    if (!writes || writes.length === 0) return durable
    const staged = writes.map((write) => ({ write }) as { write: StoreWrite; done?: Promise<unknown> })
    batch.writes.push(...staged)
    return durable.then(async () => {
      for (const s of staged) await s.done
      return record
    })
  }

  #openBatch(first: number): Batch {
    let settle!: (error?: unknown) => void
    const durable = new Promise<void>((resolve, reject) => {
      settle = (error) => (error === undefined ? resolve() : reject(error))
    })
    const batch: Batch = {
      first,
      records: [],
      writes: [],
      durable,
      settle,
      due: false,
      committed: false,
    }
    this.#open = batch
    // Calls handled in this turn (every request the poll phase delivered) join the batch.
    setImmediate(() => {
      batch.due = true
      if (!this.#committing) this.#write(batch)
    })
    return batch
  }

  /**
   * Commits a batch. Only one commit is in flight at a time: if it fails, nothing after it has been
   * issued, so its ids and those of the batch filling meanwhile can be given back. Both batches'
   * appends are refused (nothing of them is stored or published) and the next append takes the
   * failed batch's first id: the sequence keeps no hole, and the journal goes on once the store
   * accepts writes again. Calls that arrive during a commit join the next batch, so a slow commit
   * makes batches larger rather than commits more frequent.
   */
  #write(batch: Batch): void {
    if (this.#open !== batch) return
    this.#open = undefined
    this.#committing = batch
    this.#pending.push(batch)
    const { records } = batch
    const value = records.length === 1 ? records[0]!.json : records.map((r) => r.json).join('\n')
    // An explicit lmdb batch: its writes share one transaction, which commits as soon as the block
    // is written instead of at the end of the next event turn.
    const written = this.#events.batch(() => {
      for (const staged of batch.writes) {
        try {
          staged.done = staged.write.collection.stage(staged.write.key, staged.write.value)
        } catch (error) {
          staged.done = Promise.reject(error)
        }
        // Awaited by the append once the batch is durable; until then a rejection is not unhandled.
        staged.done.catch(() => {})
      }
      this.#events.put(batch.first, value)
    })
    written.then(
      () => {
        this.#committing = undefined
        // In fsync mode acknowledgement also waits for the flush, which runs off the writer lock.
        this.#store.settle(written).then(
          () => {
            this.#health.failing = false
            this.#publish(batch)
          },
          (error: unknown) => {
            this.#failed()
            // Committed but not flushed: the calls are not acknowledged, but the records are in
            // the journal, where replay will read them, so they are published in their place too:
            // a live subscriber must not see a gap that a resuming one would not.
            this.#publish(batch, asError(error))
          },
        )
        const next = this.#open
        if (next?.due) this.#write(next)
      },
      (error: unknown) => {
        this.#failed()
        this.#committing = undefined
        this.#pending.splice(this.#pending.indexOf(batch), 1)
        this.#next = batch.first
        const next = this.#open
        this.#open = undefined
        batch.settle(asError(error))
        next?.settle(new Error('the journal could not commit an earlier batch', { cause: error }))
      },
    )
  }

  /** A committed batch: published in sequence order, then its appends settle (refused on `error`). */
  #publish(batch: Batch, error?: Error): void {
    batch.committed = true
    this.#drain()
    batch.settle(error)
  }

  #failed(): void {
    this.#health.failing = true
    this.#health.commitFailures++
    this.#health.lastFailureAt = isoNow()
  }

  #drain(): void {
    while (this.#pending.length > 0 && this.#pending[0]!.committed) {
      for (const record of this.#pending.shift()!.records) {
        this.#head = record.id
        try {
          this.#index.add(record.event, record.id)
        } catch {
          // The index is derived: a failure here must not fail the call whose record is committed;
          // the next open rebuilds what is missing from the journal.
        }
        for (const listener of this.#listeners) {
          try {
            listener(record)
          } catch {
            // A broken listener must not stop the journal or other listeners.
          }
        }
      }
    }
  }

  /** Writes what is left of the index; call before closing the store. */
  async close(): Promise<void> {
    while (this.#committing || this.#open) {
      const batch = this.#committing ?? this.#open!
      if (batch === this.#open) this.#write(batch)
      await batch.durable.catch(() => {})
    }
    await this.#index.flush()
  }

  /** Calls `listener` with every record committed from now on, in sequence order. */
  subscribe(listener: JournalListener): () => void {
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  /** Serialized records with `after < id <= upTo`, oldest first, at most `limit`. */
  readRaw(after: number, limit: number, upTo = this.#head): Array<{ id: number; json: string }> {
    const out: Array<{ id: number; json: string }> = []
    if (limit <= 0 || after >= upTo) return out
    for (const line of this.#lines(after + 1, upTo)) {
      out.push(line)
      if (out.length >= limit) break
    }
    return out
  }

  read(after: number, limit: number, upTo = this.#head): EventEnvelope[] {
    return this.readRaw(after, limit, upTo).map((r) => JSON.parse(r.json) as EventEnvelope)
  }

  get(id: number): EventEnvelope | undefined {
    if (id > this.#head || id < 1) return undefined
    for (const { json } of this.#lines(id, id)) return JSON.parse(json) as EventEnvelope
    return undefined
  }

  /** Events of one trace, oldest first. */
  byTrace(traceId: string, limit = 1000): EventEnvelope[] {
    return this.#byIndex(traceKey(traceId), limit)
  }

  /** Events of one task, oldest first. */
  byTask(taskId: string, limit = 1000): EventEnvelope[] {
    return this.#byIndex(taskKey(taskId), limit)
  }

  #byIndex(key: string, limit: number): EventEnvelope[] {
    const out: EventEnvelope[] = []
    for (const id of this.#index.lookup(key, limit)) {
      const event = this.get(id)
      if (event) out.push(event)
    }
    return out
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}

function lineCount(value: string): number {
  let count = 1
  for (let at = value.indexOf('\n'); at !== -1; at = value.indexOf('\n', at + 1)) count++
  return count
}

let lastMs = 0
let lastIso = ''
/** The current time as ISO 8601; calls within the same millisecond share one string. */
function isoNow(): string {
  const now = Date.now()
  if (now !== lastMs) {
    lastMs = now
    lastIso = new Date(now).toISOString()
  }
  return lastIso
}
