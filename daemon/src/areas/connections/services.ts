import { ERRORS, type FieldError, ProblemError } from '@arw/protocol'
import type { ConnectionsConfig } from './config.ts'
import type { ConnectorDriver, ConnectorKind } from './driver.ts'
import type { Federation } from './federation.ts'
import type { Connector } from './model.ts'
import { type Collections, listAll } from './records.ts'
import type { SecretBox } from './secrets.ts'

/** What the connections area's tool handlers get as `ctx.services`. */
export interface ConnectionsServices {
  federation: Federation
  collections: Collections
  drivers: Partial<Record<ConnectorKind, ConnectorDriver>>
  secrets: SecretBox
  config: ConnectionsConfig
}

export const BUILT_IN_KINDS: readonly ConnectorKind[] = ['mcp', 'http', 'ws', 'local']

const BUILT_IN_NAMES: Record<ConnectorKind, string> = {
  mcp: 'MCP server',
  http: 'REST service (OpenAPI)',
  ws: 'WebSocket service',
  local: 'Local module',
}

/** The connector of each built-in kind, available when this daemon has its driver. */
export function builtInConnector(kind: ConnectorKind, driver: ConnectorDriver | undefined): Connector {
  return {
    id: kind,
    kind,
    name: driver?.name ?? BUILT_IN_NAMES[kind],
    capabilities: [...(driver?.capabilities ?? [])],
    version: driver?.version ?? '0.0.0',
    builtIn: true,
    available: driver !== undefined,
  }
}

export async function allConnectors(services: ConnectionsServices): Promise<Connector[]> {
  const custom = (await listAll(services.collections.connectors)).map((e) => ({
    ...e.value,
    available: services.drivers[e.value.kind] !== undefined,
  }))
  return [...BUILT_IN_KINDS.map((k) => builtInConnector(k, services.drivers[k])), ...custom]
}

export async function connectorOf(services: ConnectionsServices, id: string): Promise<Connector> {
  if ((BUILT_IN_KINDS as readonly string[]).includes(id)) {
    const kind = id as ConnectorKind
    return builtInConnector(kind, services.drivers[kind])
  }
  const custom = await services.collections.connectors.get(id)
  if (!custom) throw new ProblemError(ERRORS.not_found, { what: `connector ${id}` })
  return { ...custom, available: services.drivers[custom.kind] !== undefined }
}

/** The connector's driver, and the target with its defaults, checked; a validation problem otherwise. */
export function checkedTarget(
  connector: Connector,
  driver: ConnectorDriver | undefined,
  target: Record<string, unknown>,
): Record<string, unknown> {
  if (!driver) {
    throw new ProblemError(ERRORS.unavailable, {
      reason: `connector ${connector.id}: this daemon has no ${connector.kind} driver yet`,
    })
  }
  const merged = { ...(connector.targetDefaults ?? {}), ...target }
  const problems = driver.checkTarget(merged)
  if (problems.length > 0) {
    const errors: FieldError[] = problems.map((message) => ({
      pointer: '/input/target',
      message,
      keyword: 'target',
    }))
    throw new ProblemError(
      ERRORS.validation_failed,
      { count: errors.length, schema: `${connector.kind} connector target` },
      { errors },
    )
  }
  return merged
}
