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
