import type { ConnectorDriver, ConnectorKind } from '../driver.ts'
import { httpDriver } from './http.ts'
import { localDriver } from './local.ts'
import { mcpDriver } from './mcp.ts'
import { wsDriver } from './ws.ts'

/**
 * The driver of each connector kind this daemon can reach. A kind without one is listed by
 * GET /connectors as not available, and a connection of it is refused. Each driver is one line.
 */
export const DRIVERS: Partial<Record<ConnectorKind, ConnectorDriver>> = {
  http: httpDriver,
  local: localDriver,
  mcp: mcpDriver,
  ws: wsDriver,
}
