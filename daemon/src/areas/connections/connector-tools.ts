import { ERRORS, ProblemError } from '@arw/protocol'
import Type from 'typebox'
import { areaKit } from '../../kernel/area.ts'
import { draft } from '../../kernel/event-draft.ts'
import type { ConnectionsConfig } from './config.ts'
import { connectorRegistered } from './events.ts'
import { Connector, ConnectorKindSchema, ID_PATTERN } from './model.ts'
import { allConnectors, BUILT_IN_KINDS, type ConnectionsServices } from './services.ts'

const { tool } = areaKit<ConnectionsServices, ConnectionsConfig>()

export const connectorsList = tool({
  name: 'connectors.list',
  version: '1.0.0',
  title: 'List connectors',
  description:
    'The connector types this daemon can connect through: the built-in kinds (mcp, http, ws, local; `available` says whether this daemon has the driver) and registered custom connectors.',
  input: Type.Object({}, { additionalProperties: false }),
  output: Type.Object({ connectors: Type.Array(Connector) }, { additionalProperties: false }),
  hints: { readOnly: true, idempotent: true, openWorld: false },
  capabilities: ['connections'],
  permission: 'connections:read',
  http: { method: 'GET', path: '/connectors' },
  examples: [{ title: 'Built-in and registered connectors', input: {} }],
  handler: async (_input, { services }) => ({ connectors: await allConnectors(services) }),
})

export const connectorsRegister = tool({
  name: 'connectors.register',
  version: '1.0.0',
  title: 'Register a custom connector',
  description:
    'Adds (or replaces) a custom connector: a named kind of upstream with default target settings (e.g. a company MCP gateway) that connections can then name as their connectorId. Admin only, policy-checked.',
  input: Type.Object(
    {
      id: Type.String({ pattern: ID_PATTERN, description: 'Not one of the built-in kinds.' }),
      kind: ConnectorKindSchema,
      name: Type.String({ minLength: 1, maxLength: 200 }),
      capabilities: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 64 })),
      version: Type.Optional(Type.String({ pattern: '^\\d+\\.\\d+\\.\\d+$', default: '1.0.0' })),
      description: Type.Optional(Type.String({ maxLength: 4000 })),
      targetDefaults: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    },
    { additionalProperties: false },
  ),
  output: Type.Object({ connector: Connector }, { additionalProperties: false }),
  errors: ['conflict'],
  hints: { readOnly: false, idempotent: true, destructive: false, openWorld: false },
  capabilities: ['connections'],
  permission: 'connections:admin',
  risk: 'medium',
  http: { method: 'POST', path: '/connectors/register' },
  examples: [
    {
      title: 'A company MCP gateway',
      input: {
        id: 'gateway',
        kind: 'mcp',
        name: 'Company MCP gateway',
        targetDefaults: { url: 'https://mcp.example.com/mcp' },
      },
    },
  ],
  handler: async (input, ctx) => {
    const { collections, drivers } = ctx.services
    if ((BUILT_IN_KINDS as readonly string[]).includes(input.id))
      throw new ProblemError(ERRORS.conflict, { reason: `${input.id} is a built-in connector` })
    const driver = drivers[input.kind]
    const connector: Connector = {
      id: input.id,
      kind: input.kind,
      name: input.name,
      capabilities: input.capabilities ?? [...(driver?.capabilities ?? [])],
      version: input.version ?? '1.0.0',
      builtIn: false,
      available: driver !== undefined,
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(input.targetDefaults !== undefined ? { targetDefaults: input.targetDefaults } : {}),
    }
    await ctx.transaction(async (tx) => {
      tx.put(collections.connectors, connector.id, connector)
      void tx.append(draft(ctx.registry, connectorRegistered, { connector }, ctx))
    })
    return { connector }
  },
})

export const connectorTools = [connectorsList, connectorsRegister]
