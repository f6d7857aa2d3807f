import { randomUUID } from 'node:crypto'
import { ERRORS, ProblemError } from '@arw/protocol'
import Type from 'typebox'
import { areaKit } from '../../kernel/area.ts'
import { draft } from '../../kernel/event-draft.ts'
import type { ConnectionsConfig } from './config.ts'
import { connectionUpdated, linkAdded, linkRemoved } from './events.ts'
import { ID_PATTERN, Id, Link, now, SERVICE_PATTERN, type StoredLink } from './model.ts'
import { listAll, notFound } from './records.ts'
import type { ConnectionsServices } from './services.ts'

const { tool } = areaKit<ConnectionsServices, ConnectionsConfig>()

export const linkList = tool({
  name: 'link.list',
  version: '1.0.0',
  title: 'List links',
  description:
    'Links bind a connection to the service namespace its tools appear under; each with its live status, health and imported tools.',
  input: Type.Object(
    { connectionId: Type.Optional(Type.String({ pattern: ID_PATTERN })) },
    { additionalProperties: false },
  ),
  output: Type.Object(
    { links: Type.Array(Link), count: Type.Integer({ minimum: 0 }) },
    { additionalProperties: false },
  ),
  hints: { readOnly: true, idempotent: true, openWorld: false },
  capabilities: ['connections'],
  permission: 'connections:read',
  http: { method: 'GET', path: '/links' },
  examples: [
    { title: 'Every link', input: {} },
    { title: 'The links of one connection', input: { connectionId: 'greeter' } },
  ],
  handler: async ({ connectionId }, { services }) => {
    const entries = await listAll(
      services.collections.links,
      connectionId ? { index: 'connection', value: connectionId } : undefined,
    )
    const links = entries.map((e) => services.federation.linkView(e.value))
    return { links, count: links.length }
  },
})

export const linkCreate = tool({
  name: 'link.create',
  version: '1.0.0',
  title: 'Create a link',
  description:
    "Binds a connection to a service namespace: once the link is up, the upstream's tools are imported as <serviceId>.<tool name> and pass the pipeline like any tool. With autoEnable the connection is enabled too; the answer comes after the first attempt to bring the link up (its status and health say how it went).",
  input: Type.Object(
    {
      id: Type.Optional(Id('Default: a new UUID.')),
      connectionId: Type.String({ pattern: ID_PATTERN }),
      serviceId: Type.String({
        pattern: SERVICE_PATTERN,
        description: 'The namespace of the imported tools (one lowercase tool-name segment).',
      }),
      autoEnable: Type.Optional(Type.Boolean({ default: false })),
    },
    { additionalProperties: false },
  ),
  output: Type.Object({ link: Link }, { additionalProperties: false }),
  errors: ['not_found', 'conflict'],
  hints: { readOnly: false, idempotent: false, destructive: false, openWorld: true },
  capabilities: ['connections'],
  permission: 'connections:write',
  risk: 'medium',
  http: { method: 'POST', path: '/links' },
  examples: [
    {
      title: 'Import under hello.*, enabling the connection',
      input: { id: 'hello', connectionId: 'greeter', serviceId: 'hello', autoEnable: true },
    },
  ],
  handler: async ({ id, connectionId, serviceId, autoEnable }, ctx) => {
    const { collections, federation } = ctx.services
    const connection = await collections.connections.entry(connectionId)
    if (!connection) throw notFound(`connection ${connectionId}`)
    const owner = federation.namespaceTaken(serviceId)
    if (owner !== undefined) {
      throw new ProblemError(ERRORS.conflict, {
        reason: `the tool namespace ${serviceId} is taken (${owner} is registered)`,
      })
    }
    const at = now()
    const link: StoredLink = { id: id ?? randomUUID(), connectionId, serviceId, createdAt: at, updatedAt: at }
    const enable = autoEnable === true && !connection.value.enabled
    const enabled = enable ? { ...connection.value, enabled: true, updatedAt: at } : undefined
    await ctx.transaction(async (tx) => {
      tx.put(collections.links, link.id, link, { ifVersion: 0 })
      void tx.append(draft(ctx.registry, linkAdded, { id: link.id, connectionId, serviceId }, ctx))
      if (enabled) {
        tx.put(collections.connections, connectionId, enabled, { ifVersion: connection.version })
        void tx.append(
          draft(
            ctx.registry,
            connectionUpdated,
            { connection: federation.view(enabled, connection.version + 1), changed: ['enabled'] },
            ctx,
          ),
        )
      }
    })
    await federation.linkAdded(link)
    if (enabled) await federation.connectionChanged(enabled)
    return { link: federation.linkView(link) }
  },
})

export const linkDelete = tool({
  name: 'link.delete',
  version: '1.0.0',
  title: 'Delete a link',
  description: 'Closes the link and removes its imported tools from the registry.',
  input: Type.Object({ id: Type.String({ pattern: ID_PATTERN }) }, { additionalProperties: false }),
  output: Type.Object(
    { id: Type.String(), deleted: Type.Boolean(), tools: Type.Array(Type.String()) },
    { additionalProperties: false },
  ),
  errors: ['not_found'],
  hints: { readOnly: false, idempotent: false, destructive: true, openWorld: false },
  capabilities: ['connections'],
  permission: 'connections:write',
  http: { method: 'DELETE', path: '/links/{id}' },
  examples: [{ title: 'Remove a link (its tools go too)', input: { id: 'hello' } }],
  handler: async ({ id }, ctx) => {
    const { collections, federation } = ctx.services
    const entry = await collections.links.entry(id)
    if (!entry) throw notFound(`link ${id}`)
    const tools = federation.linkView(entry.value).tools
    await ctx.transaction(async (tx) => {
      tx.delete(collections.links, id, { ifVersion: entry.version })
      tx.delete(collections.catalogs, id)
      void tx.append(
        draft(
          ctx.registry,
          linkRemoved,
          { id, connectionId: entry.value.connectionId, serviceId: entry.value.serviceId, tools },
          ctx,
        ),
      )
    })
    await federation.linkRemoved(id)
    return { id, deleted: true, tools }
  },
})

export const linkTools = [linkList, linkCreate, linkDelete]
