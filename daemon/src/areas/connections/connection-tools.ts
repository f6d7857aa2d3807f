import { randomUUID } from 'node:crypto'
import { ERRORS, ProblemError } from '@arw/protocol'
import type { Entry } from '@arw/store'
import Type from 'typebox'
import { type AreaToolContext, areaKit } from '../../kernel/area.ts'
import { draft } from '../../kernel/event-draft.ts'
import type { ConnectionsConfig } from './config.ts'
import {
  connectionAdded,
  connectionPolicyChanged,
  connectionRemoved,
  connectionSecretBound,
  connectionUpdated,
} from './events.ts'
import {
  Connection,
  ConnectionStatus,
  DEFAULT_TUNING,
  ID_PATTERN,
  Id,
  ImportPreview,
  now,
  PolicyRef,
  SERVICE_PATTERN,
  type StoredConnection,
  Tuning,
} from './model.ts'
import { listAll, notFound } from './records.ts'
import { type ConnectionsServices, checkedTarget, connectorOf } from './services.ts'

const { tool } = areaKit<ConnectionsServices, ConnectionsConfig>()

const Target = Type.Record(Type.String(), Type.Unknown(), {
  description:
    'What to reach, as the connector kind reads it: local {module}, mcp {command, args} or {url}, http {openapi, baseUrl}, ws {url}.',
})
const PathId = Type.String({ pattern: ID_PATTERN, description: 'The connection id.' })
const One = Type.Object({ connection: Connection }, { additionalProperties: false })

function optional<T extends Record<string, import('typebox').TSchema>>(props: T) {
  return Object.fromEntries(Object.entries(props).map(([k, v]) => [k, Type.Optional(v)])) as {
    [K in keyof T]: import('typebox').TOptional<T[K]>
  }
}

async function load(services: ConnectionsServices, id: string): Promise<Entry<StoredConnection>> {
  const entry = await services.collections.connections.entry(id)
  if (!entry) throw notFound(`connection ${id}`)
  return entry
}

/** Writes a connection and its event in one transaction; answers the stored record and its version. */
async function save(
  ctx: AreaToolContext<ConnectionsServices, ConnectionsConfig>,
  entry: Entry<StoredConnection>,
  next: StoredConnection,
  changed: string[],
  extra?: ReturnType<typeof draft>,
) {
  const { federation, collections } = ctx.services
  await ctx.transaction(async (tx) => {
    tx.put(collections.connections, next.id, next, { ifVersion: entry.version })
    void tx.append(
      draft(
        ctx.registry,
        connectionUpdated,
        { connection: federation.view(next, entry.version + 1), changed },
        ctx,
      ),
    )
    if (extra) void tx.append(extra)
  })
  await federation.connectionChanged(next)
  return { connection: federation.view(next, entry.version + 1) }
}

export const connList = tool({
  name: 'conn.list',
  version: '1.0.0',
  title: 'List connections',
  description: 'The connections of this daemon, with their live status; filter by tag or status.',
  input: Type.Object(
    {
      tag: Type.Optional(Type.String({ maxLength: 64 })),
      status: Type.Optional(ConnectionStatus),
    },
    { additionalProperties: false },
  ),
  output: Type.Object(
    { connections: Type.Array(Connection), count: Type.Integer({ minimum: 0 }) },
    { additionalProperties: false },
  ),
  hints: { readOnly: true, idempotent: true, openWorld: false },
  capabilities: ['connections'],
  permission: 'connections:read',
  http: { method: 'GET', path: '/connections' },
  examples: [
    { title: 'Every connection', input: {} },
    { title: 'Healthy ones tagged team-a', input: { tag: 'team-a', status: 'healthy' } },
  ],
  handler: async ({ tag, status }, { services }) => {
    const connections = (await listAll(services.collections.connections))
      .map((e) => services.federation.view(e.value, e.version))
      .filter(
        (c) => (tag === undefined || c.tags.includes(tag)) && (status === undefined || c.status === status),
      )
    return { connections, count: connections.length }
  },
})

export const connCreate = tool({
  name: 'conn.create',
  version: '1.0.0',
  title: 'Create a connection',
  description:
    'Stores a connection to an upstream service, disabled until toggled (or enabled by a link created with autoEnable). With dry_run: true, reaches the upstream and answers what would be imported, storing nothing.',
  input: Type.Object(
    {
      id: Type.Optional(Id('Default: a new UUID.')),
      connectorId: Type.String({ pattern: ID_PATTERN, description: 'A connector of GET /connectors.' }),
      target: Target,
      ...optional(Tuning),
      policyId: Type.Optional(PolicyRef),
      serviceId: Type.Optional(
        Type.String({
          pattern: SERVICE_PATTERN,
          description: 'dry_run: the namespace to preview names under.',
        }),
      ),
      dry_run: Type.Optional(Type.Boolean({ default: false })),
    },
    { additionalProperties: false },
  ),
  output: Type.Object(
    {
      dry_run: Type.Boolean(),
      connection: Connection,
      preview: Type.Optional(ImportPreview),
    },
    { additionalProperties: false },
  ),
  errors: ['conflict', 'not_found', 'unavailable', 'upstream_error'],
  hints: { readOnly: false, idempotent: false, destructive: false, openWorld: false },
  capabilities: ['connections'],
  permission: 'connections:write',
  risk: 'medium',
  http: { method: 'POST', path: '/connections' },
  examples: [
    {
      title: 'A local module, disabled until linked',
      input: {
        id: 'greeter',
        connectorId: 'local',
        target: { module: '/opt/arw/greeter.mjs' },
        concurrency: { max: 4, queue: 8 },
      },
    },
  ],
  handler: async (input, ctx) => {
    const { services } = ctx
    const connector = await connectorOf(services, input.connectorId)
    const target = checkedTarget(connector, services.drivers[connector.kind], input.target)
    const at = now()
    const connection: StoredConnection = {
      id: input.id ?? randomUUID(),
      connectorId: connector.id,
      kind: connector.kind,
      target,
      enabled: false,
      rateLimit: input.rateLimit ?? DEFAULT_TUNING.rateLimit,
      concurrency: input.concurrency ?? DEFAULT_TUNING.concurrency,
      retry: input.retry ?? DEFAULT_TUNING.retry,
      backoff: input.backoff ?? DEFAULT_TUNING.backoff,
      breaker: input.breaker ?? DEFAULT_TUNING.breaker,
      qos: input.qos ?? DEFAULT_TUNING.qos,
      timeoutMs: input.timeoutMs ?? DEFAULT_TUNING.timeoutMs,
      tags: input.tags ?? [],
      notes: input.notes ?? '',
      policyId: input.policyId ?? null,
      secretRef: null,
      createdAt: at,
      updatedAt: at,
    }
    if (input.dry_run) {
      const preview = await services.federation.preview(connection, input.serviceId ?? 'preview')
      return {
        dry_run: true,
        connection: { ...services.federation.view(connection, 1), version: 0 },
        preview,
      }
    }
    await ctx.transaction(async (tx) => {
      // Version 0: only when no connection has this id.
      tx.put(services.collections.connections, connection.id, connection, { ifVersion: 0 })
      void tx.append(
        draft(ctx.registry, connectionAdded, { connection: services.federation.view(connection, 1) }, ctx),
      )
    })
    await services.federation.connectionChanged(connection)
    return { dry_run: false, connection: services.federation.view(connection, 1) }
  },
})

export const connGet = tool({
  name: 'conn.get',
  version: '1.0.0',
  title: 'Get a connection',
  description: 'One connection with its live status (never its secret: secretRef only says one is bound).',
  input: Type.Object({ id: PathId }, { additionalProperties: false }),
  output: One,
  errors: ['not_found'],
  hints: { readOnly: true, idempotent: true, openWorld: false },
  capabilities: ['connections'],
  permission: 'connections:read',
  http: { method: 'GET', path: '/connections/{id}' },
  examples: [{ title: 'One connection', input: { id: 'greeter' } }],
  handler: async ({ id }, { services }) => {
    const entry = await load(services, id)
    return { connection: services.federation.view(entry.value, entry.version) }
  },
})

export const connUpdate = tool({
  name: 'conn.update',
  version: '1.0.0',
  title: 'Update a connection',
  description:
    "Changes a connection's target or tuning (rate limit, concurrency, retry, backoff, breaker, QoS, timeout, tags, notes). Send `version` (from a read) to refuse the update when someone changed it since.",
  input: Type.Object(
    {
      id: PathId,
      version: Type.Optional(Type.Integer({ minimum: 1 })),
      target: Type.Optional(Target),
      ...optional(Tuning),
    },
    { additionalProperties: false },
  ),
  output: One,
  errors: ['not_found', 'conflict'],
  hints: { readOnly: false, idempotent: true, destructive: false, openWorld: false },
  capabilities: ['connections'],
  permission: 'connections:write',
  http: { method: 'PATCH', path: '/connections/{id}' },
  examples: [
    {
      title: 'A new rate limit, only if unchanged since version 1',
      input: { id: 'greeter', version: 1, rateLimit: { perSecond: 5, burst: 10 } },
    },
  ],
  handler: async ({ id, version, target, ...tuning }, ctx) => {
    const entry = await load(ctx.services, id)
    if (version !== undefined && version !== entry.version) {
      throw new ProblemError(ERRORS.version_conflict, { collection: 'connection', expected: version })
    }
    const next: StoredConnection = { ...entry.value, updatedAt: now() }
    const changed: string[] = []
    if (target !== undefined) {
      const connector = await connectorOf(ctx.services, entry.value.connectorId)
      next.target = checkedTarget(connector, ctx.services.drivers[connector.kind], target)
      changed.push('target')
    }
    for (const [key, value] of Object.entries(tuning)) {
      if (value === undefined) continue
      ;(next as Record<string, unknown>)[key] = value
      changed.push(key)
    }
    return save(ctx, entry, next, changed)
  },
})

export const connDelete = tool({
  name: 'conn.delete',
  version: '1.0.0',
  title: 'Delete a connection',
  description: 'Deletes a connection with its links, their imported tools and its secret.',
  input: Type.Object({ id: PathId }, { additionalProperties: false }),
  output: Type.Object(
    { id: Type.String(), deleted: Type.Boolean(), links: Type.Array(Type.String()) },
    { additionalProperties: false },
  ),
  errors: ['not_found'],
  hints: { readOnly: false, idempotent: false, destructive: true, openWorld: false },
  capabilities: ['connections'],
  permission: 'connections:write',
  risk: 'medium',
  http: { method: 'DELETE', path: '/connections/{id}' },
  examples: [{ title: 'Remove a connection', input: { id: 'greeter' } }],
  handler: async ({ id }, ctx) => {
    const { collections, federation } = ctx.services
    const entry = await load(ctx.services, id)
    const links = await listAll(collections.links, { index: 'connection', value: id })
    await ctx.transaction(async (tx) => {
      tx.delete(collections.connections, id, { ifVersion: entry.version })
      tx.delete(collections.secrets, id)
      for (const link of links) {
        tx.delete(collections.links, link.key)
        tx.delete(collections.catalogs, link.key)
      }
      void tx.append(draft(ctx.registry, connectionRemoved, { id, links: links.map((l) => l.key) }, ctx))
    })
    // Once the records are gone: sessions closed, imported tools and limits removed.
    await federation.connectionRemoved(id)
    return { id, deleted: true, links: links.map((l) => l.key) }
  },
})

export const connToggle = tool({
  name: 'conn.toggle',
  version: '1.0.0',
  title: 'Enable or disable a connection',
  description:
    'Flips a connection between enabled and disabled (or sets it with `enabled`). Enabling brings its links up and imports their tools; disabling takes them down (the tools stay listed and answer unavailable).',
  input: Type.Object({ id: PathId, enabled: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
  output: One,
  errors: ['not_found', 'conflict'],
  hints: { readOnly: false, idempotent: false, destructive: false, openWorld: true },
  capabilities: ['connections'],
  permission: 'connections:write',
  http: { method: 'POST', path: '/connections/{id}/toggle' },
  examples: [{ title: 'Enable', input: { id: 'greeter', enabled: true } }],
  handler: async ({ id, enabled }, ctx) => {
    const entry = await load(ctx.services, id)
    const next = { ...entry.value, enabled: enabled ?? !entry.value.enabled, updatedAt: now() }
    return save(ctx, entry, next, ['enabled'])
  },
})

export const connTest = tool({
  name: 'conn.test',
  version: '1.0.0',
  title: 'Test a connection',
  description:
    'An active health check: pings the upstream of every live link of the connection (or opens a short session when it has none), and answers the latency, the status and the trace id of the test.',
  input: Type.Object({ id: PathId }, { additionalProperties: false }),
  output: Type.Object(
    {
      id: Type.String(),
      ok: Type.Boolean(),
      status: ConnectionStatus,
      latencyMs: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]),
      error: Type.Union([Type.String(), Type.Null()]),
      trace_id: Type.String(),
    },
    { additionalProperties: false },
  ),
  errors: ['not_found'],
  hints: { readOnly: true, idempotent: true, openWorld: true },
  capabilities: ['connections'],
  permission: 'connections:read',
  http: { method: 'POST', path: '/connections/{id}/test' },
  examples: [{ title: 'Health test now', input: { id: 'greeter' } }],
  handler: async ({ id }, ctx) => {
    const entry = await load(ctx.services, id)
    const result = await ctx.services.federation.test(id)
    const status = ctx.services.federation.status(ctx.services.federation.connection(id) ?? entry.value)
    return {
      id,
      ok: result.ok,
      status,
      latencyMs: result.latencyMs,
      error: result.error,
      trace_id: ctx.trace.traceId,
    }
  },
})

export const connSetPolicy = tool({
  name: 'conn.set_policy',
  version: '1.0.0',
  title: 'Bind a policy to a connection',
  description: 'Binds a policy id to the connection (null unbinds it).',
  input: Type.Object({ id: PathId, policyId: PolicyRef }, { additionalProperties: false }),
  output: One,
  errors: ['not_found', 'conflict'],
  hints: { readOnly: false, idempotent: true, destructive: false, openWorld: false },
  capabilities: ['connections'],
  permission: 'connections:write',
  http: { method: 'POST', path: '/connections/{id}/set-policy' },
  examples: [{ title: 'Bind a policy', input: { id: 'greeter', policyId: 'team-a-readonly' } }],
  handler: async ({ id, policyId }, ctx) => {
    const entry = await load(ctx.services, id)
    const next = { ...entry.value, policyId, updatedAt: now() }
    return save(
      ctx,
      entry,
      next,
      ['policyId'],
      draft(ctx.registry, connectionPolicyChanged, { id, policyId }, ctx),
    )
  },
})

export const connBindSecret = tool({
  name: 'conn.bind_secret',
  version: '1.0.0',
  title: 'Bind a secret to a connection',
  description:
    "Stores the connection's secret (a token, an API key), encrypted at rest with AES-256-GCM. It is injected into upstream requests only: no route, event, log or record returns it; the connection's secretRef says that one is bound.",
  input: Type.Object(
    {
      id: PathId,
      secret: Type.String({
        minLength: 1,
        maxLength: 16384,
        writeOnly: true,
        description: 'The secret in clear; never returned or recorded.',
      }),
    },
    { additionalProperties: false },
  ),
  output: One,
  errors: ['not_found', 'conflict'],
  hints: { readOnly: false, idempotent: true, destructive: true, openWorld: false },
  capabilities: ['connections'],
  permission: 'connections:admin',
  risk: 'high',
  http: { method: 'POST', path: '/connections/{id}/bind-secret' },
  examples: [
    { title: 'A bearer token for the upstream', input: { id: 'greeter', secret: 'example-token-not-real' } },
  ],
  handler: async ({ id, secret }, ctx) => {
    const { collections, secrets, federation } = ctx.services
    const entry = await load(ctx.services, id)
    const at = now()
    const secretRef = `sealed:${id}@${at}`
    const next = { ...entry.value, secretRef, updatedAt: at }
    const view = federation.view(next, entry.version + 1)
    await ctx.transaction(async (tx) => {
      tx.put(collections.connections, id, next, { ifVersion: entry.version })
      tx.put(collections.secrets, id, secrets.seal(secret, id, at))
      void tx.append(draft(ctx.registry, connectionSecretBound, { id, secretRef }, ctx))
      void tx.append(
        draft(ctx.registry, connectionUpdated, { connection: view, changed: ['secretRef'] }, ctx),
      )
    })
    await federation.connectionChanged(next)
    return { connection: federation.view(next, entry.version + 1) }
  },
})

export const connectionTools = [
  connList,
  connCreate,
  connGet,
  connUpdate,
  connDelete,
  connToggle,
  connTest,
  connSetPolicy,
  connBindSecret,
]
