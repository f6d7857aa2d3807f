import type { ToolContext } from '@arw/registry'
import type { LogLevel } from './protocol.ts'

/**
 * Capabilities a tool declares to use MCP-only features. They are ordinary declared capabilities,
 * so they show in the catalog and policy can see them.
 * - `mcp.content`: the tool's output carries `content`, an array of MCP content blocks (image,
 *   audio, embedded resources) that MCP clients get as the result's content instead of the text
 *   rendering of the output. `structuredContent` is still the whole output.
 * - `mcp.client`: the tool talks back to the MCP client of its call through `mcpClient(ctx)`.
 */
export const MCP_CONTENT = 'mcp.content'
export const MCP_CLIENT = 'mcp.client'

/** What a tool may do with the MCP client that made the call. */
export interface McpClientChannel {
  /** The capabilities the client declared (initialize, or the request's `_meta` envelope). */
  readonly capabilities: Record<string, unknown>
  /** Sends `notifications/message` when the client's log level lets it through. */
  log(level: LogLevel, data: unknown, logger?: string): void
  /** Sends a request to the client (`sampling/createMessage`, `elicitation/create`) and waits for its answer. */
  request(method: string, params: Record<string, unknown>): Promise<unknown>
  /**
   * Closes the response stream of this call without ending the call (SEP-1699 polling): the client
   * reconnects with Last-Event-ID and gets what was sent meanwhile. A no-op where it does not apply.
   */
  closeStream(): void
}

/**
 * Calls in flight that came through MCP, by span id. The pipeline hands a handler the very trace
 * the surface built for the call, so the span id finds the call's channel without any state in the
 * pipeline. Only calls of tools that declare `mcp.client` are registered.
 */
const channels = new Map<string, McpClientChannel>()

export function registerChannel(spanId: string, channel: McpClientChannel): () => void {
  channels.set(spanId, channel)
  return () => {
    channels.delete(spanId)
  }
}

/** The MCP client of this call, or undefined when the call did not come through MCP. */
export function mcpClient(ctx: Pick<ToolContext, 'trace'>): McpClientChannel | undefined {
  return channels.get(ctx.trace.spanId)
}
