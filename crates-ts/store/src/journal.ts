import type { EventDraft, EventEnvelope } from '@arw/protocol'
import { type Backend, type CommitBatch, ID_PLACEHOLDER, type ReadCheck, type Unit } from './backend.ts'
import type { JournalRecord, Write } from './port.ts'

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

/** A record before its commit gives it an id; `json` starts with ID_PLACEHOLDER until then. */
interface Pending {
  id: number
  readonly kind: string
  json: string
  readonly event: EventEnvelope
}

/** The records and units submitted in one event-loop turn, committed as one backend transaction. */
interface Batch extends CommitBatch {
  readonly records: Pending[]
  readonly units: Unit[]
  readonly durable: Promise<void>
  settle(error?: unknown): void
  /** The turn that fills it is over: it is written as soon as no other commit is in flight. */
  due: boolean
  committed: boolean
  /** Records of refused units, set by kept (rare, so a batch without refusals allocates nothing). */
  dropped: Set<JournalRecord> | undefined
}

/**
 * The append-only event journal, and the one write path of the store: collection writes and
 * transactions are committed in its batches too, so a record and the writes of the same call are
 * never committed apart. Ids are given at commit, strictly increasing and without holes: one batch
 * commits at a time, in order, so after a crash the surviving records are always a prefix, and a
 * commit that fails (disk full) takes no id, so the next one starts where it would have. `append`
 * resolves only once its record is durable, and listeners see records strictly in id order, only
 * after they are durable.
 */
export class Journal {
  readonly #backend: Backend
  #head: number
  /** The batch filling in this turn, written when the turn ends. */
  #open: Batch | undefined
  /** Written batches, oldest first, until they are durable and published. */
  #pending: Batch[] = []
  /** The batch whose commit is in flight; the next one waits for its outcome. */
  #committing: Batch | undefined
  #listeners = new Set<JournalListener>()
  #health: JournalHealth = { failing: false, commitFailures: 0, lastFailureAt: undefined }

  constructor(backend: Backend) {
    this.#backend = backend
    this.#head = backend.head
  }

  get health(): Readonly<JournalHealth> {
    return this.#health
  }

  /** Highest id this journal has committed and published (or found at open). */
  get head(): number {
    return this.#head
  }

  /**
   * Appends an event; resolves with its record once durable. `writes` (collection writes as data,
   * see `Collection.putOp`) commit in the same transaction as the record: both or neither. A write
   * whose condition fails (`ifVersion`, a unique index) refuses this append with `conflict`, without
   * taking an id and without failing the other appends of its batch.
   */
  append<P>(draft: EventDraft<P>, writes?: readonly Write[]): Promise<JournalRecord> {
    const event: EventEnvelope<P> = { id: 0, time: isoNow(), ...draft }
    // Serialized now: a payload JSON cannot represent is refused here, before anything is queued.
    const record: Pending = {
      id: 0,
      kind: draft.kind,
      json: JSON.stringify(event),
      event: event as EventEnvelope,
    }
    const batch = this.#open ?? this.#openBatch()
    batch.records.push(record)
    if (writes === undefined || writes.length === 0) return batch.durable.then(() => record)
    const unit: Unit = { writes, checks: NO_CHECKS, records: [record], error: undefined, versions: undefined }
    batch.units.push(unit)
    return batch.durable.then(() => {
      if (unit.error) throw unit.error
      return record
    })
  }

  /**
   * Commits writes and records as one unit (collection writes, transactions). Resolves with the
   * versions written, once durable; rejects with the unit's `conflict` when refused.
   */
  submit(
    writes: readonly Write[],
    checks: readonly ReadCheck[] = NO_CHECKS,
    drafts: readonly EventDraft[] = [],
  ): { done: Promise<number[]>; records: Array<Promise<JournalRecord>> } {
    const records: Pending[] = drafts.map((draft) => {
      const event: EventEnvelope = { id: 0, time: isoNow(), ...draft }
      return { id: 0, kind: draft.kind, json: JSON.stringify(event), event }
    })
    const batch = this.#open ?? this.#openBatch()
    for (const record of records) batch.records.push(record)
    const unit: Unit = { writes, checks, records, error: undefined, versions: undefined }
    batch.units.push(unit)
    const done = batch.durable.then(() => {
      if (unit.error) throw unit.error
      return unit.versions ?? []
    })
    return { done, records: records.map((record) => done.then(() => record)) }
  }

  #openBatch(): Batch {
    let settle!: (error?: unknown) => void
    const durable = new Promise<void>((resolve, reject) => {
      settle = (error) => (error === undefined ? resolve() : reject(error))
    })
    const batch: Batch = {
      records: [],
      units: [],
      durable,
      settle,
      due: false,
      committed: false,
      dropped: undefined,
      kept() {
        for (const unit of batch.units) {
          if (unit.error === undefined || unit.records.length === 0) continue
          batch.dropped ??= new Set()
          for (const record of unit.records) batch.dropped.add(record)
        }
        return batch.dropped ? batch.records.filter((record) => !batch.dropped!.has(record)) : batch.records
      },
      seal(first) {
        const sealed = batch.kept()
        let id = first
        for (const record of sealed as Pending[]) {
          record.id = id
          record.event.id = id
          record.json = '{"id":' + id + ',' + record.json.slice(ID_PLACEHOLDER.length)
          id++
        }
        return sealed
      },
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
   * issued, so no id was taken by it or by the batch filling meanwhile. Both batches' appends are
   * refused (nothing of them is stored or published), and the journal goes on once the backend
   * accepts writes again. Calls that arrive during a commit join the next batch, so a slow commit
   * makes batches larger rather than commits more frequent.
   */
  #write(batch: Batch): void {
    if (this.#open !== batch) return
    this.#open = undefined
    this.#committing = batch
    this.#pending.push(batch)
    let written: Promise<void>
    try {
      written = this.#backend.commit(batch)
    } catch (error) {
      written = Promise.reject(error)
    }
    written.then(
      () => {
        this.#committing = undefined
        if (!this.#backend.flushes) {
          this.#health.failing = false
          this.#publish(batch)
        } else {
          // In fsync mode acknowledgement also waits for the flush, which runs off the writer lock.
          this.#backend.flushed().then(
            () => {
              this.#health.failing = false
              this.#publish(batch)
            },
            (error: unknown) => {
              this.#failed()
              // Committed but not flushed: the calls are not acknowledged, but the records are in
              // the journal, where replay will read them, so they are published in their place
              // too: a live subscriber must not see a gap that a resuming one would not.
              this.#publish(batch, asError(error))
            },
          )
        }
        const next = this.#open
        if (next?.due) this.#write(next)
      },
      (error: unknown) => {
        this.#failed()
        this.#committing = undefined
        this.#pending.splice(this.#pending.indexOf(batch), 1)
        const next = this.#open
        this.#open = undefined
        batch.settle(asError(error))
        next?.settle(new Error('the journal could not commit an earlier batch', { cause: error }))
      },
    )
  }

  /** A committed batch: published in id order, then its appends settle (refused on `error`). */
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
      const batch = this.#pending.shift()!
      for (const record of batch.records) {
        if (batch.dropped?.has(record)) continue
        this.#head = record.id
        try {
          this.#backend.indexed(record.event, record.id)
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

  /** Commits what is queued; the store closes the backend after it. */
  async close(): Promise<void> {
    while (this.#committing || this.#open) {
      const batch = this.#committing ?? this.#open!
      if (batch === this.#open) this.#write(batch)
      await batch.durable.catch(() => {})
    }
  }

  /** Calls `listener` with every record committed from now on, in id order. */
  subscribe(listener: JournalListener): () => void {
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  /**
   * The oldest id still in the journal: 1, unless retention removed older records (head + 1 while
   * the journal is empty). Ids below it are gone for good; nothing is ever numbered again.
   */
  get oldest(): number {
    return this.#backend.oldest
  }

  /** Serialized records with `after < id <= upTo`, oldest first, at most `limit`. */
  async readRaw(
    after: number,
    limit: number,
    upTo = this.#head,
  ): Promise<Array<{ id: number; json: string }>> {
    if (limit <= 0 || after >= upTo) return []
    return this.#backend.lines(after + 1, upTo, limit)
  }

  async read(after: number, limit: number, upTo = this.#head): Promise<EventEnvelope[]> {
    return (await this.readRaw(after, limit, upTo)).map((r) => JSON.parse(r.json) as EventEnvelope)
  }

  async get(id: number): Promise<EventEnvelope | undefined> {
    if (id > this.#head || id < 1) return undefined
    const [line] = await this.#backend.lines(id, id, 1)
    return line && (JSON.parse(line.json) as EventEnvelope)
  }

  /** Events of one trace, oldest first. */
  byTrace(traceId: string, limit = 1000): Promise<EventEnvelope[]> {
    return this.#byIndex('trace', traceId, limit)
  }

  /** Events of one task, oldest first. */
  byTask(taskId: string, limit = 1000): Promise<EventEnvelope[]> {
    return this.#byIndex('task', taskId, limit)
  }

  async #byIndex(by: 'trace' | 'task', key: string, limit: number): Promise<EventEnvelope[]> {
    const out: EventEnvelope[] = []
    for (const id of await this.#backend.lookup(by, key, limit)) {
      const event = await this.get(id)
      if (event) out.push(event)
    }
    return out
  }
}

const NO_CHECKS: readonly ReadCheck[] = []

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
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
