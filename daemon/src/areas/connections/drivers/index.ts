import type { ConnectorDriver, ConnectorKind } from '../driver.ts'
import { localDriver } from './local.ts'
import { mcpDriver } from './mcp.ts'

/**
 * The driver of each connector kind this daemon can reach. A kind without one is listed by
 * GET /connectors as not available, and a connection of it is refused. Each driver is one line.
 */
export const DRIVERS: Partial<Record<ConnectorKind, ConnectorDriver>> = {
  local: localDriver,
  mcp: mcpDriver,
}
