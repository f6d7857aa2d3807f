import { ERRORS, type EventDraft, ProblemError, SYSTEM_PRINCIPAL, type TraceContext } from '@arw/protocol'
import type { EventSpec, Registry } from '@arw/registry'
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

/** An event draft of a declared kind, by the system or in a call's trace. */
export function draft<P>(
  registry: Registry,
  spec: EventSpec,
  payload: P,
  call?: { trace: TraceContext; principal: { kind: string; id: string } },
): EventDraft<P> {
  const declared = registry.event(spec.kind)
  if (!declared) throw new Error(`event kind ${spec.kind} is not declared`)
  if (!declared.validator.check(payload))
    throw new Error(
      `event ${spec.kind} payload does not match its schema: ${JSON.stringify(declared.validator.errors(payload))}`,
    )
  const actor = call
    ? { kind: call.principal.kind, id: call.principal.id }
    : { kind: SYSTEM_PRINCIPAL.kind, id: SYSTEM_PRINCIPAL.id }
  return {
    kind: spec.kind,
    version: declared.version,
    severity: declared.severity,
    ...(call ? { trace_id: call.trace.traceId, span_id: call.trace.spanId } : {}),
    actor: actor as EventDraft['actor'] & object,
    payload,
  }
}
