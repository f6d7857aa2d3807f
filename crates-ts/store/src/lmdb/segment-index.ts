import type { EventEnvelope } from '@arw/protocol'
import type { Database } from 'lmdb'

/** Records per index segment. */
export const SEGMENT_SIZE = 4096
/** Bloom filter: 10 bits per record and 7 probes give about 1% false positives. */
const BITS_PER_RECORD = 10
const BLOOM_PROBES = 7

/** A closed segment's postings: `[key, ids]` pairs sorted by key (arrays serialize fast). */
type Postings = Array<[string, number[]]>

/** Where a SegmentIndex keeps its closed segments. */
export interface SegmentStore {
  /** Postings of each closed segment as JSON (serialized natively: a segment holds thousands of keys). */
  postings: Database<string, string>
  /** A Bloom filter of each closed segment's keys. */
  filters: Database<Uint8Array, string>
}

/**
 * The journal's trace and task index, built for an append-only log on LMDB.
 *
 * A per-event index entry keyed by trace id is a random-key B-tree insert, and LMDB copies every
 * page it touches on each commit: measured here, that doubled the cost of every call and grew with
 * the journal. Instead, records are grouped in segments of SEGMENT_SIZE sequence ids. The open
 * segment's postings live in memory; when a segment fills, its postings and a Bloom filter of its
 * keys are written once, under sequential keys. A lookup checks each closed segment's filter and
 * reads the postings only of segments that may hold the key. The open segment is rebuilt from the
 * journal when it is opened, so nothing here is on a call's acknowledgement path and a crash loses
 * nothing.
 */
export class SegmentIndex {
  readonly #db: SegmentStore
  #openSegment: number
  #open = new Map<string, number[]>()
  /** Closed segments whose write is not committed yet: still answered from memory. */
  #closing = new Map<number, Map<string, number[]>>()
  #writes = new Set<Promise<unknown>>()
  readonly #size: number
  readonly #writeSync: boolean
  /** The oldest id kept in the journal: lookups return none below it (retention removed them). */
  #oldest: number

  /**
   * @param oldest the oldest id the journal still holds (segments below it are gone on purpose).
   * @param records reads committed records of a sequence range, for rebuilding what is not stored.
   */
  constructor(
    db: SegmentStore,
    head: number,
    oldest: number,
    records: (from: number, to: number) => Iterable<{ id: number; event: EventEnvelope }>,
    segmentSize = SEGMENT_SIZE,
    /** Write a closed segment at once on this thread (`commit` durability: no flush to wait for). */
    writeSync = false,
  ) {
    this.#db = db
    this.#size = segmentSize
    this.#writeSync = writeSync
    this.#oldest = oldest
    this.#openSegment = this.#segmentOf(head + 1)
    // Closed segments a crash left unwritten (normally none, at most the last one or two).
    const missing: number[] = []
    for (let segment = this.#openSegment - 1; segment >= this.#segmentOf(oldest); segment--) {
      if (db.postings.doesExist(segmentKey(segment))) break
      missing.push(segment)
    }
    for (const segment of missing.reverse()) {
      const postings = new Map<string, number[]>()
      for (const { id, event } of records(this.#firstId(segment), this.#firstId(segment + 1) - 1))
        add(postings, event, id)
      db.postings.putSync(segmentKey(segment), serializePostings(postings))
      db.filters.putSync(segmentKey(segment), bloomOf(postings.keys(), this.#size * BITS_PER_RECORD))
    }
    for (const { id, event } of records(this.#firstId(this.#openSegment), head)) add(this.#open, event, id)
  }

  /** Indexes a committed record; records arrive in sequence order. */
  add(event: EventEnvelope, id: number): void {
    const segment = this.#segmentOf(id)
    if (segment !== this.#openSegment) this.#close(segment)
    if (event.trace_id !== undefined || event.task_id !== undefined) add(this.#open, event, id)
  }

  #close(next: number): void {
    const segment = this.#openSegment
    const postings = this.#open
    this.#openSegment = next
    this.#open = new Map()
    if (this.#writeSync) {
      try {
        this.#db.postings.transactionSync(() => {
          this.#db.postings.putSync(segmentKey(segment), serializePostings(postings))
          this.#db.filters.putSync(
            segmentKey(segment),
            bloomOf(postings.keys(), this.#size * BITS_PER_RECORD),
          )
        })
        return
      } catch {
        // Kept in memory below; the next open rebuilds the segment from the journal.
      }
    }
    this.#closing.set(segment, postings)
    if (this.#writeSync) return
    const write = Promise.all([
      this.#db.postings.put(segmentKey(segment), serializePostings(postings)),
      this.#db.filters.put(segmentKey(segment), bloomOf(postings.keys(), this.#size * BITS_PER_RECORD)),
    ]).then(
      () => this.#closing.delete(segment),
      // Left in memory; the next open rebuilds the segment from the journal.
      () => {},
    )
    this.#writes.add(write)
    void write.finally(() => this.#writes.delete(write))
  }

  /** Sequence ids of records under `key` (`t\0<trace>` or `k\0<task>`), oldest first, at most `limit`. */
  lookup(key: string, limit: number): number[] {
    const ids: number[] = [...(this.#open.get(key) ?? [])]
    for (let segment = this.#openSegment - 1; segment >= this.#segmentOf(this.#oldest); segment--) {
      const pending = this.#closing.get(segment)
      if (pending) {
        ids.push(...(pending.get(key) ?? []))
        continue
      }
      const bloom = this.#db.filters.get(segmentKey(segment))
      if (!bloom || !bloomHas(bloom, key)) continue
      const json = this.#db.postings.get(segmentKey(segment))
      if (json !== undefined) ids.push(...findPostings(JSON.parse(json) as Postings, key))
    }
    const oldest = this.#oldest
    return ids
      .filter((id) => id >= oldest)
      .sort((a, b) => a - b)
      .slice(0, limit)
  }

  /**
   * The journal now starts at `oldest`: lookups stop returning older ids at once, and the returned
   * function (run inside the write that removes the records) deletes the closed segments that
   * hold only removed ids.
   */
  retire(oldest: number): () => void {
    const from = this.#segmentOf(this.#oldest)
    const to = this.#segmentOf(oldest) - 1
    this.#oldest = oldest
    return () => {
      for (let segment = from; segment <= to && segment < this.#openSegment; segment++) {
        if (this.#closing.has(segment)) continue
        void this.#db.postings.remove(segmentKey(segment))
        void this.#db.filters.remove(segmentKey(segment))
      }
    }
  }

  /** Where the closed segments are kept (their size counts toward the journal's). */
  databases(): Array<Database<unknown, string>> {
    return [this.#db.postings, this.#db.filters] as Array<Database<unknown, string>>
  }

  #segmentOf(id: number): number {
    return Math.floor((id - 1) / this.#size)
  }

  #firstId(segment: number): number {
    return segment * this.#size + 1
  }

  /** Waits for segment writes in flight (before the store closes). */
  async flush(): Promise<void> {
    await Promise.all(this.#writes)
  }
}

export function traceKey(traceId: string): string {
  return `t\0${traceId}`
}

export function taskKey(taskId: string): string {
  return `k\0${taskId}`
}

// Postings are written unsorted: a segment closes on the hot path of a call and is read only by
// lookups (rare), where parsing the JSON costs far more than a linear search of the parsed array.
function serializePostings(postings: Map<string, number[]>): string {
  return JSON.stringify([...postings])
}

function findPostings(postings: Postings, key: string): number[] {
  for (const [k, ids] of postings) if (k === key) return ids
  return []
}

function add(postings: Map<string, number[]>, event: EventEnvelope, id: number): void {
  if (event.trace_id !== undefined) push(postings, traceKey(event.trace_id), id)
  if (event.task_id !== undefined) push(postings, taskKey(event.task_id), id)
}

function push(postings: Map<string, number[]>, key: string, id: number): void {
  const list = postings.get(key)
  if (list) list.push(id)
  else postings.set(key, [id])
}

function segmentKey(segment: number): string {
  return segment.toString(36).padStart(9, '0')
}

/** Two FNV-1a hashes with different offsets; probes are h1 + i*h2 (Kirsch-Mitzenmacher). */
function hashes(key: string): [number, number] {
  let h1 = 0x811c9dc5
  let h2 = 0x01000193 ^ 0x5bd1e995
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 0x01000193)
    h2 = Math.imul(h2 ^ c, 0x5bd1e995)
  }
  return [h1 >>> 0, (h2 >>> 0) | 1]
}

function bloomOf(keys: Iterable<string>, size: number): Uint8Array {
  const bits = new Uint8Array(Math.ceil(size / 8))
  const m = bits.length * 8
  for (const key of keys) {
    const [h1, h2] = hashes(key)
    for (let i = 0; i < BLOOM_PROBES; i++) {
      const bit = (h1 + i * h2) % m
      bits[bit >>> 3]! |= 1 << (bit & 7)
    }
  }
  return bits
}

function bloomHas(bits: Uint8Array, key: string): boolean {
  const [h1, h2] = hashes(key)
  const m = bits.length * 8
  for (let i = 0; i < BLOOM_PROBES; i++) {
    const bit = (h1 + i * h2) % m
    if ((bits[bit >>> 3]! & (1 << (bit & 7))) === 0) return false
  }
  return true
}
