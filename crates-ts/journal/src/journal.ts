import type { EventDraft, EventEnvelope } from '@arw/protocol'
import type { Database } from 'lmdb'
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
 * records strictly in sequence order, only after they are durable.
 */
export class Journal {
  readonly #store: Store
  readonly #events: Database<string, number>
  /** Secondary index: `t\0<trace_id>\0<seq>` and `k\0<task_id>\0<seq>` → seq. */
  readonly #index: Database<number, string>
  #next: number
  #head: number
  #pending: Pending[] = []
  #listeners = new Set<JournalListener>()

  constructor(store: Store) {
    this.#store = store
    this.#events = store.database<string>('journal', { encoding: 'string' }) as unknown as Database<
      string,
      number
    >
    this.#index = store.database<number>('journal_index') as unknown as Database<number, string>
    let last = 0
    for (const key of this.#events.getKeys({ reverse: true, limit: 1 })) last = key as number
    this.#head = last
    this.#next = last + 1
  }

  /** Highest sequence id that is durable (and has been published). */
  get head(): number {
    return this.#head
  }

  /** Appends an event; resolves with its envelope once durable. */
  append<P>(draft: EventDraft<P>): Promise<JournalRecord> {
    const id = this.#next++
    const event: EventEnvelope<P> = { id, time: new Date().toISOString(), ...draft }
    const json = JSON.stringify(event)
    const record: JournalRecord = { id, kind: draft.kind, json, event: event as EventEnvelope }
    const entry: Pending = { record, committed: false }
    this.#pending.push(entry)
    let write: Promise<unknown> = this.#events.put(id, json)
    if (draft.trace_id) write = this.#index.put(`t\0${draft.trace_id}\0${pad(id)}`, id)
    if (draft.task_id) write = this.#index.put(`k\0${draft.task_id}\0${pad(id)}`, id)
    // lmdb-js commits writes in the order they were issued, and all writes of one event turn in one
    // transaction: once the last write is committed, so are the ones before it.
    return this.#store.settle(write).then(
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
      for (const listener of this.#listeners) {
        try {
          listener(record)
        } catch {
          // A broken listener must not stop the journal or other listeners.
        }
      }
    }
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
    return this.#byIndex(`t\0${traceId}\0`, limit)
  }

  /** Events of one task, oldest first. */
  byTask(taskId: string, limit = 1000): EventEnvelope[] {
    return this.#byIndex(`k\0${taskId}\0`, limit)
  }

  #byIndex(prefix: string, limit: number): EventEnvelope[] {
    const out: EventEnvelope[] = []
    for (const { value } of this.#index.getRange({ start: prefix, end: prefix + '\uffff', limit })) {
      const event = this.get(value)
      if (event) out.push(event)
    }
    return out
  }
}

function pad(id: number): string {
  return id.toString(36).padStart(11, '0')
}
