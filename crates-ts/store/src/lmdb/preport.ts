import { join } from 'node:path'
import { open } from 'lmdb'

/** What a state directory of the release before the storage port held. */
export interface PreportState {
  /** Journal batches: each a list of events (with ids), stored under the first id as JSON lines. */
  journal: ReadonlyArray<ReadonlyArray<Record<string, unknown>>>
  /** Collections (`Store.collection(name)` then): raw values by key. */
  collections: Readonly<Record<string, Readonly<Record<string, unknown>>>>
}

/**
 * Writes a state directory in the layout the release before the storage port wrote (tests of the
 * upgrade: `arw.lmdb` with `journal` and `c:<name>` sub-databases of raw msgpack values).
 */
export async function writePreportStateDir(dir: string, state: PreportState): Promise<void> {
  const env = open({ path: join(dir, 'arw.lmdb'), maxDbs: 64 })
  const journal = env.openDB<string, number>({ name: 'journal', encoding: 'string' })
  for (const batch of state.journal) {
    const first = batch[0]?.['id']
    if (typeof first !== 'number') throw new Error('every journal batch needs events with ids')
    await journal.put(first, batch.map((event) => JSON.stringify(event)).join('\n'))
  }
  for (const [name, entries] of Object.entries(state.collections)) {
    const db = env.openDB({ name: `c:${name}`, encoding: 'msgpack' })
    for (const [key, value] of Object.entries(entries)) await db.put(key, value)
  }
  await env.close()
}

/** A record as the first release of the storage port stored it, with its index entries. */
export interface StringKeyedRecord {
  /** `<area>/<name>` */
  collection: string
  key: string
  value: unknown
  version: number
  expiresAt?: number
  /** index name → indexed value */
  indexes?: Readonly<Record<string, string>>
}

/**
 * Writes records in the layout of the first release of the storage port: sub-databases `records`,
 * `indexes` and `expiry` whose composite keys lmdb-js encoded as strings (tests of the upgrade to
 * byte keys). The journal is left empty.
 */
export async function writeStringKeyedStateDir(
  dir: string,
  records: readonly StringKeyedRecord[],
): Promise<void> {
  const env = open({ path: join(dir, 'arw.lmdb'), maxDbs: 64 })
  const stored = env.openDB<unknown, string>({ name: 'records', encoding: 'msgpack' })
  const indexes = env.openDB<string, string>({ name: 'indexes', encoding: 'string' })
  const expiry = env.openDB<string, string>({ name: 'expiry', encoding: 'string' })
  for (const r of records) {
    const envelope: Record<string, unknown> = { v: r.version, d: r.value }
    if (r.expiresAt !== undefined) {
      envelope['x'] = r.expiresAt
      await expiry.put(`${String(r.expiresAt).padStart(15, '0')}\0${r.collection}\0${r.key}`, '')
    }
    await stored.put(`${r.collection}\0${r.key}`, envelope)
    for (const [index, value] of Object.entries(r.indexes ?? {}))
      await indexes.put(`${r.collection}\0${index}\0${value}\0${r.key}`, '')
  }
  await env.close()
}
