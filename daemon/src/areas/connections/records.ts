import { ERRORS, ProblemError } from '@arw/protocol'
import type { Collection, Entry } from '@arw/store'
import type { CollectionOptions } from '../../kernel/area.ts'
import type { Catalog, Connector, StoredConnection, StoredLink } from './model.ts'
import type { SealedSecret } from './secrets.ts'

/**
 * The area's collections: custom connectors, connections (by connector), links (a service id
 * belongs to one link: unique index), the imported catalog of each link (what a restart registers
 * before any link is up again) and sealed secrets (one per connection, never returned by a route).
 */
export interface Collections {
  connectors: Collection<Connector>
  connections: Collection<StoredConnection>
  links: Collection<StoredLink>
  catalogs: Collection<Catalog>
  secrets: Collection<SealedSecret>
}

type Open = <T>(name: string, options?: CollectionOptions<T>) => Collection<T>

export function openCollections(collection: Open): Collections {
  return {
    connectors: collection<Connector>('connectors'),
    connections: collection<StoredConnection>('connections', {
      indexes: [{ name: 'connector', of: (c) => c.connectorId }],
    }),
    links: collection<StoredLink>('links', {
      indexes: [
        { name: 'service', unique: true, of: (l) => l.serviceId },
        { name: 'connection', of: (l) => l.connectionId },
      ],
    }),
    catalogs: collection<Catalog>('catalogs', {
      indexes: [{ name: 'connection', of: (c) => c.connectionId }],
    }),
    secrets: collection<SealedSecret>('secrets'),
  }
}

/** Every record of a collection (the area's lists are small: connections and links an operator made). */
export async function listAll<T>(
  collection: Collection<T>,
  find?: { index: string; value: string },
): Promise<Entry<T>[]> {
  const out: Entry<T>[] = []
  let cursor: string | undefined
  for (;;) {
    const page = find
      ? await collection.find(find.index, find.value, { limit: 1000, ...(cursor ? { cursor } : {}) })
      : await collection.list({ limit: 1000, ...(cursor ? { cursor } : {}) })
    out.push(...page.items)
    if (!page.next_cursor) return out
    cursor = page.next_cursor
  }
}

export function notFound(what: string): ProblemError {
  return new ProblemError(ERRORS.not_found, { what })
}
