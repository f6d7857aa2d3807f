import { Client as ClientV2, StreamableHTTPClientTransport as HttpV2 } from '@modelcontextprotocol/client'
import { StdioClientTransport as StdioV2 } from '@modelcontextprotocol/client/stdio'
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport as StdioV1 } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport as HttpV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { CallToolResultSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js'

export type ClientKind = 'sdk-1.x' | 'sdk-v2' | 'sdk-v2@2026-07-28'
export const CLIENT_KINDS: ClientKind[] = ['sdk-1.x', 'sdk-v2', 'sdk-v2@2026-07-28']

export interface CallResult {
  content: Array<Record<string, unknown>>
  structuredContent?: unknown
  isError?: boolean
}

/** The few client operations the tests need, the same for both SDK generations. */
export interface TestClient {
  kind: ClientKind
  protocolVersion(): string | undefined
  listTools(cursor?: string): Promise<{ tools: Array<Record<string, any>>; nextCursor?: string }>
  callTool(
    name: string,
    args: Record<string, unknown>,
    options?: {
      onprogress?: (p: { progress: number; total?: number; message?: string }) => void
      signal?: AbortSignal
    },
  ): Promise<CallResult>
  /** Calls `listener` on tools/list_changed (opening the 2026-07-28 subscription when needed). */
  onToolsChanged(listener: () => void): Promise<void>
  /** The server process of a stdio client. */
  pid(): number | undefined
  close(): Promise<void>
}

export type Target =
  | { http: URL; token?: string | undefined }
  | { command: string; args: string[]; env: Record<string, string> }

export async function connect(kind: ClientKind, target: Target): Promise<TestClient> {
  const headers: Record<string, string> =
    'http' in target && target.token ? { authorization: `Bearer ${target.token}` } : {}
  if (kind === 'sdk-1.x') {
    const client = new ClientV1({ name: 'arw-test', version: '1.0.0' }, { capabilities: {} })
    const transport =
      'http' in target
        ? new HttpV1(target.http, { requestInit: { headers } })
        : new StdioV1({ command: target.command, args: target.args, env: target.env, stderr: 'pipe' })
    await client.connect(transport)
    return {
      kind,
      protocolVersion: () => (transport as { protocolVersion?: string }).protocolVersion,
      listTools: (cursor) => client.listTools(cursor ? { cursor } : {}) as never,
      callTool: (name, args, options) =>
        client.callTool({ name, arguments: args }, CallToolResultSchema, {
          ...(options?.onprogress ? { onprogress: options.onprogress as never } : {}),
          ...(options?.signal ? { signal: options.signal } : {}),
        }) as Promise<CallResult>,
      onToolsChanged: async (listener) => {
        client.setNotificationHandler(ToolListChangedNotificationSchema, () => listener())
      },
      pid: () => (transport as { pid?: number | null }).pid ?? undefined,
      close: () => client.close(),
    }
  }
  const modern = kind === 'sdk-v2@2026-07-28'
  const client = new ClientV2(
    { name: 'arw-test', version: '1.0.0' },
    modern ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {},
  )
  const transport =
    'http' in target
      ? new HttpV2(target.http, { requestInit: { headers } })
      : new StdioV2({ command: target.command, args: target.args, env: target.env, stderr: 'pipe' })
  await client.connect(transport)
  return {
    kind,
    protocolVersion: () => client.getNegotiatedProtocolVersion(),
    listTools: (cursor) => client.listTools(cursor ? { cursor } : {}) as never,
    callTool: (name, args, options) =>
      client.callTool(
        { name, arguments: args },
        {
          ...(options?.onprogress ? { onprogress: options.onprogress as never } : {}),
          ...(options?.signal ? { signal: options.signal } : {}),
        },
      ) as Promise<CallResult>,
    onToolsChanged: async (listener) => {
      client.setNotificationHandler('notifications/tools/list_changed', () => listener())
      if (modern) await client.listen({ toolsListChanged: true })
    },
    pid: () => (transport as { pid?: number | null }).pid ?? undefined,
    close: () => client.close(),
  }
}
