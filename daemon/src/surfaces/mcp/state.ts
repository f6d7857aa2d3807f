import type { Services } from '../../services.ts'
import { McpDispatcher } from './dispatcher.ts'
import { ListenerSet } from './listeners.ts'
import { SessionTokens } from './session.ts'
import { StreamRegistry } from './streams.ts'

/** The MCP surface of one daemon, shared by its transports (Streamable HTTP and stdio). */
export interface McpState {
  dispatcher: McpDispatcher
  tokens: Promise<SessionTokens>
  streams: StreamRegistry
  listeners: ListenerSet
}

const states = new WeakMap<Services, McpState>()

/** The MCP surface of a daemon: created on first use, closed with the app (closeMcp). */
export function mcpState(services: Services): McpState {
  let state = states.get(services)
  if (state) return state
  const { config, registry } = services
  const dispatcher = new McpDispatcher({
    registry,
    pipeline: services.pipeline,
    logger: services.logger,
    version: services.version,
    routeDocs: services.routeDocs,
    pageSize: config.mcpPageSize,
  })
  const listeners = new ListenerSet(config.sseHeartbeatMs)
  dispatcher.onListChanged(() => listeners.changed())
  const tokens = SessionTokens.open(services.store)
  // Awaited by the first MCP request; a daemon closed before any would otherwise leave it unhandled.
  tokens.catch(() => {})
  state = { dispatcher, tokens, streams: new StreamRegistry(), listeners }
  states.set(services, state)
  return state
}

/** Ends every open MCP stream, so the app can close (call from a preClose hook). */
export function closeMcp(services: Services): void {
  states.get(services)?.listeners.close()
}
