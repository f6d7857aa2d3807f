import type { EventDraft, EventEnvelope } from '@arw/protocol'
import type { Database } from 'lmdb'
import { SegmentIndex, type SegmentStore, taskKey, traceKey } from './segment-index.ts'
import type { Store } from './store.ts'

/** A committed journal entry: the envelope and its serialized form (serialized once, sent as is). */
export interface JournalRecord {
  readonly id: number
  readonly kind: string
  readonly json: string
  readonly event: EventEnvelope
}

export type JournalListener = (record: JournalRecord) => void

interface Pending {
  record: JournalRecord
  committed: boolean
}

/**
 * The append-only event journal. Sequence ids are assigned in call order, strictly increasing and
 * without holes: lmdb-js commits write batches in order, so after a crash the surviving records
 * are always a prefix. `append` resolves only once its record is durable, and listeners see
 * records strictly in sequence order, only after they are durable. A call pays for one sequential
 * put; the trace and task index is kept off that path (see SegmentIndex).
 */
export class Journal {
  readonly #store: Store
  readonly #events: Database<string, number>
  readonly #index: SegmentIndex
  #next: number
  #head: number
  #pending: Pending[] = []
  #listeners = new Set<JournalListener>()

  constructor(store: Store, options: { indexSegmentSize?: number } = {}) {
    this.#store = store
    this.#events = store.database<string>('journal', { encoding: 'string' }) as unknown as Database<
      string,
      number
    >
    let last = 0
    for (const key of this.#events.getKeys({ reverse: true, limit: 1 })) last = key as number
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

  *#records(from: number, to: number): Iterable<{ id: number; event: EventEnvelope }> {
    for (const { key, value } of this.#events.getRange({ start: from, end: to + 1 })) {
      yield { id: key as number, event: JSON.parse(value) as EventEnvelope }
    }
  }

  /** Highest sequence id that is durable (and has been published). */
  get head(): number {
    return this.#head
  }

  /** Appends an event; resolves with its envelope once durable. */
  append<P>(draft: EventDraft<P>): Promise<JournalRecord> {
    const id = this.#next++
    const event: EventEnvelope<P> = { id, time: isoNow(), ...draft }
    const json = JSON.stringify(event)
    const record: JournalRecord = { id, kind: draft.kind, json, event: event as EventEnvelope }
    const entry: Pending = { record, committed: false }
    this.#pending.push(entry)
    return this.#store.settle(this.#events.put(id, json)).then(
      () => {
        entry.committed = true
        this.#drain()
        return record
      },
      (error: unknown) => {
        // A failed commit leaves a hole in the in-memory sequence; refuse to hide it.
        this.#pending.splice(this.#pending.indexOf(entry), 1)
        throw error
      },
    )
  }

  #drain(): void {
    while (this.#pending.length > 0 && this.#pending[0]!.committed) {
      const { record } = this.#pending.shift()!
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

  /** Writes what is left of the index; call before closing the store. */
  async close(): Promise<void> {
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
    for (const { key, value } of this.#events.getRange({ start: after + 1, end: upTo + 1, limit })) {
      out.push({ id: key as number, json: value })
    }
    return out
  }

  read(after: number, limit: number, upTo = this.#head): EventEnvelope[] {
    return this.readRaw(after, limit, upTo).map((r) => JSON.parse(r.json) as EventEnvelope)
  }

  get(id: number): EventEnvelope | undefined {
    if (id > this.#head) return undefined
    const json = this.#events.get(id)
    return json === undefined ? undefined : (JSON.parse(json) as EventEnvelope)
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
