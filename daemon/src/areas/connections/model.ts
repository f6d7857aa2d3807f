import Type, { type Static } from 'typebox'

/**
 * The records of the connections area, as seed 003 names them ("Schemas (High Level)"): what is
 * stored, what the routes answer, and what events carry. Ids are validated by pattern before they
 * reach a store key, a registry name or a log line, so no id can smuggle a path or a key separator.
 */

/** Connection, link and connector ids: letters, digits, `_` and `-`, at most 64 (UUIDs fit). */
export const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$'
/** A link's service namespace: one lowercase segment of a tool name (`github` → `github.search`). */
export const SERVICE_PATTERN = '^[a-z][a-z0-9_-]{0,39}$'

export const Id = (description: string) => Type.String({ pattern: ID_PATTERN, description })

export const CONNECTOR_KINDS = ['mcp', 'http', 'ws', 'local'] as const
export const ConnectorKindSchema = Type.Union([
  Type.Literal('mcp'),
  Type.Literal('http'),
  Type.Literal('ws'),
  Type.Literal('local'),
])

export const Connector = Type.Object({
  id: Id('Built-in connectors are named after their kind (mcp, http, ws, local).'),
  kind: ConnectorKindSchema,
  name: Type.String(),
  capabilities: Type.Array(Type.String()),
  version: Type.String(),
  builtIn: Type.Boolean(),
  available: Type.Boolean({ description: 'False when this daemon has no driver for the kind.' }),
  description: Type.Optional(Type.String()),
  targetDefaults: Type.Optional(
    Type.Record(Type.String(), Type.Unknown(), {
      description: 'Merged under the target of connections made with this connector.',
    }),
  ),
})
export type Connector = Static<typeof Connector>

export const RateLimit = Type.Object(
  {
    perSecond: Type.Number({ exclusiveMinimum: 0, maximum: 100_000, description: 'Sustained calls/s.' }),
    burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: 'Bucket size.' })),
  },
  { additionalProperties: false },
)
export const Concurrency = Type.Object(
  {
    max: Type.Integer({ minimum: 1, maximum: 10_000, description: 'Calls running upstream at once.' }),
    queue: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 10_000, default: 0, description: 'Calls that may wait.' }),
    ),
  },
  { additionalProperties: false },
)
export const Retry = Type.Object(
  {
    maxAttempts: Type.Integer({
      minimum: 1,
      maximum: 10,
      description: 'Attempts of a call safe to repeat (1: never retried).',
    }),
  },
  { additionalProperties: false },
)
export const Backoff = Type.Object(
  {
    initialMs: Type.Integer({ minimum: 1, maximum: 60_000 }),
    maxMs: Type.Integer({ minimum: 1, maximum: 300_000 }),
  },
  { additionalProperties: false },
)
export const Breaker = Type.Object(
  {
    failures: Type.Integer({
      minimum: 1,
      maximum: 1000,
      description: 'Consecutive upstream failures that open the circuit.',
    }),
    halfOpenAfterMs: Type.Integer({
      minimum: 10,
      maximum: 3_600_000,
      description: 'How long an open circuit refuses calls before one probe call is let through.',
    }),
  },
  { additionalProperties: false },
)
export const Priority = Type.Union([Type.Literal('low'), Type.Literal('normal'), Type.Literal('high')])
export type Priority = Static<typeof Priority>
/** One rule of a connection's QoS: the callers it names (all it gives must match) and their priority. */
export const CallerRule = Type.Object(
  {
    principal: Type.Optional(
      Type.String({
        minLength: 3,
        maxLength: 200,
        description: 'A principal as `<kind>:<id>` (`api_key:ci`, `operator:local`).',
      }),
    ),
    tenant: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    role: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    priority: Priority,
  },
  {
    additionalProperties: false,
    minProperties: 2,
    description: 'Names at least one of principal, tenant, role.',
  },
)
export type CallerRule = Static<typeof CallerRule>
export const Qos = Type.Object(
  {
    priority: Type.Union(Priority.anyOf, { description: 'Priority of callers no rule of `callers` names.' }),
    callers: Type.Optional(
      Type.Array(CallerRule, {
        maxItems: 64,
        description:
          "Priorities of named callers in the connection's concurrency queue; the first rule that matches a caller wins.",
      }),
    ),
  },
  { additionalProperties: false },
)
export type Qos = Static<typeof Qos>

/** A policy a connection is bound to (`set-policy`), or null for none. */
export const PolicyRef = Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()])

export const CONNECTION_STATUSES = ['disabled', 'enabled', 'error', 'healthy', 'degraded'] as const
export const ConnectionStatus = Type.Union([
  Type.Literal('disabled'),
  Type.Literal('enabled'),
  Type.Literal('error'),
  Type.Literal('healthy'),
  Type.Literal('degraded'),
])
export type ConnectionStatus = Static<typeof ConnectionStatus>

/** What a user sets on a connection (create and update share these). */
export const Tuning = {
  rateLimit: Type.Union([RateLimit, Type.Null()]),
  concurrency: Type.Union([Concurrency, Type.Null()]),
  retry: Retry,
  backoff: Backoff,
  breaker: Breaker,
  qos: Qos,
  timeoutMs: Type.Integer({
    minimum: 10,
    maximum: 600_000,
    description: 'Timeout of each call of an imported tool (its declared timeout).',
  }),
  tags: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 32 }),
  notes: Type.String({ maxLength: 4096 }),
}

export const DEFAULT_TUNING = {
  rateLimit: null,
  concurrency: null,
  retry: { maxAttempts: 3 },
  backoff: { initialMs: 100, maxMs: 2000 },
  breaker: { failures: 5, halfOpenAfterMs: 10_000 },
  qos: { priority: 'normal' as const },
  timeoutMs: 30_000,
  tags: [] as string[],
  notes: '',
}

/** A connection as stored (its live status is derived when it is read). */
export const StoredConnection = Type.Object({
  id: Type.String(),
  connectorId: Type.String(),
  kind: ConnectorKindSchema,
  target: Type.Record(Type.String(), Type.Unknown()),
  enabled: Type.Boolean(),
  ...Tuning,
  policyId: Type.Union([Type.String(), Type.Null()]),
  secretRef: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  updatedAt: Type.String(),
})
export type StoredConnection = Static<typeof StoredConnection>

export const Connection = Type.Object({
  ...StoredConnection.properties,
  status: ConnectionStatus,
  version: Type.Integer({
    minimum: 0,
    description: 'Store version: send it back to update safely (0: not stored, a dry run).',
  }),
})
export type Connection = Static<typeof Connection>

export const LINK_STATUSES = ['down', 'connecting', 'up', 'error'] as const
export const LinkStatus = Type.Union([
  Type.Literal('down'),
  Type.Literal('connecting'),
  Type.Literal('up'),
  Type.Literal('error'),
])

export const Health = Type.Object({
  ok: Type.Boolean(),
  latencyMs: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]),
  errors: Type.Array(Type.String(), { description: 'Why the link is not fully up (most recent first).' }),
  checkedAt: Type.Union([Type.String(), Type.Null()]),
})
export type Health = Static<typeof Health>

export const StoredLink = Type.Object({
  id: Type.String(),
  connectionId: Type.String(),
  serviceId: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
})
export type StoredLink = Static<typeof StoredLink>

export const Link = Type.Object({
  ...StoredLink.properties,
  status: LinkStatus,
  health: Health,
  tools: Type.Array(Type.String(), { description: 'Ids of the tools imported under serviceId.' }),
})
export type Link = Static<typeof Link>

/** One imported tool, as the catalog keeps it (so a restart registers the same tools at start). */
export const ImportedTool = Type.Object({
  name: Type.String({ description: 'Registry name: <serviceId>.<normalized upstream name>.' }),
  upstream: Type.String({ description: 'The upstream name calls are sent with.' }),
  version: Type.String(),
  title: Type.String(),
  description: Type.String(),
  input: Type.Record(Type.String(), Type.Unknown()),
  output: Type.Record(Type.String(), Type.Unknown()),
  hints: Type.Record(Type.String(), Type.Boolean()),
  retrySafe: Type.Boolean(),
  retiredAt: Type.Optional(
    Type.String({ description: 'When a newer version replaced this one (kept registered, deprecated).' }),
  ),
})
export type ImportedTool = Static<typeof ImportedTool>

export const Catalog = Type.Object({
  linkId: Type.String(),
  connectionId: Type.String(),
  serviceId: Type.String(),
  tools: Type.Array(ImportedTool),
  retired: Type.Optional(
    Type.Array(ImportedTool, {
      description: 'Earlier versions of the tools, still registered (deprecated).',
    }),
  ),
})
export type Catalog = Static<typeof Catalog>

/** What a dry run (or an import) says of one upstream tool. */
export const ImportPreview = Type.Object({
  tools: Type.Array(
    Type.Object({
      name: Type.String({ description: 'Name it gets (under the service id when one is given).' }),
      upstream: Type.String(),
      title: Type.String(),
    }),
  ),
  rejected: Type.Array(
    Type.Object(
      { upstream: Type.String(), reason: Type.String() },
      { description: 'Not imported, and why.' },
    ),
  ),
})
export type ImportPreview = Static<typeof ImportPreview>

export function now(): string {
  return new Date().toISOString()
}
