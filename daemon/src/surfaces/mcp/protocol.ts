/**
 * MCP wire vocabulary the surface speaks: protocol revisions, JSON-RPC codes, reserved `_meta` keys
 * and message shapes. Plain constants and types only: the hot path never runs a schema library.
 */

/** Revisions negotiated through `initialize` (sessions), newest first. */
export const LEGACY_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26'] as const
/** Revisions negotiated per request through the `_meta` envelope and `server/discover`. */
export const MODERN_VERSIONS = ['2026-07-28'] as const
export const LATEST_LEGACY_VERSION = LEGACY_VERSIONS[0]

export function isLegacyVersion(version: string): boolean {
  return (LEGACY_VERSIONS as readonly string[]).includes(version)
}

export function isModernVersion(version: string): boolean {
  return (MODERN_VERSIONS as readonly string[]).includes(version)
}

/** Revisions from which a POST stream opens with a priming event (SEP-1699). */
export function primesStreams(version: string): boolean {
  return version >= '2025-11-25'
}

/** JSON-RPC and MCP error codes. Each code's `data`, when present, is described beside it. */
export const RPC = {
  /** The body is not JSON. No data. */
  parseError: -32700,
  /** Not a JSON-RPC request or notification (also: batches, which these revisions do not allow). No data. */
  invalidRequest: -32600,
  /** The method is not part of the negotiated revision. No data. */
  methodNotFound: -32601,
  /** Params are wrong, or the tool / resource / cursor is unknown. `data`: the RFC 7807 problem when one exists. */
  invalidParams: -32602,
  /** A fault of this server. `data`: `{ trace_id }`. */
  internalError: -32603,
  /** Streamable HTTP transport errors (missing session, bad headers). No data. */
  transport: -32000,
  /** The session is unknown or expired: initialize again. No data. */
  sessionNotFound: -32001,
  /** 2026-07-28: a standard header disagrees with the body or is missing. No data. */
  headerMismatch: -32020,
  /** 2026-07-28: the protocol version is not supported. `data`: `{ supported, requested }`. */
  unsupportedVersion: -32022,
} as const

export const META = {
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  serverInfo: 'io.modelcontextprotocol/serverInfo',
  subscriptionId: 'io.modelcontextprotocol/subscriptionId',
  logLevel: 'io.modelcontextprotocol/logLevel',
} as const

export type RequestId = string | number

export interface JsonRpcRequest {
  jsonrpc: '2.0'
  id: RequestId
  method: string
  params?: Record<string, unknown>
}

export interface JsonRpcNotification {
  jsonrpc: '2.0'
  method: string
  params?: Record<string, unknown>
}

export interface JsonRpcError {
  code: number
  message: string
  data?: unknown
}

export type JsonRpcResponse =
  | { jsonrpc: '2.0'; id: RequestId | null; result: Record<string, unknown> }
  | { jsonrpc: '2.0'; id: RequestId | null; error: JsonRpcError }

export type Message =
  | { kind: 'request'; message: JsonRpcRequest }
  | { kind: 'notification'; message: JsonRpcNotification }
  | { kind: 'response'; id: RequestId; result?: unknown; error?: JsonRpcError }
  | { kind: 'invalid' }

function isId(value: unknown): value is RequestId {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))
}

/** Sorts a parsed body into request / notification / response, without copying it. */
export function classify(body: unknown): Message {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return { kind: 'invalid' }
  const m = body as Record<string, unknown>
  if (m['jsonrpc'] !== '2.0') return { kind: 'invalid' }
  const params = m['params']
  if (params !== undefined && (params === null || typeof params !== 'object' || Array.isArray(params))) {
    return { kind: 'invalid' }
  }
  if (typeof m['method'] === 'string') {
    if (!('id' in m)) return { kind: 'notification', message: m as unknown as JsonRpcNotification }
    if (!isId(m['id'])) return { kind: 'invalid' }
    return { kind: 'request', message: m as unknown as JsonRpcRequest }
  }
  if (isId(m['id']) && ('result' in m || 'error' in m)) {
    const out: Message = { kind: 'response', id: m['id'] }
    if ('result' in m) out.result = m['result']
    if (m['error'] !== undefined) out.error = m['error'] as JsonRpcError
    return out
  }
  return { kind: 'invalid' }
}

export function errorResponse(
  id: RequestId | null,
  code: number,
  message: string,
  data?: unknown,
): JsonRpcResponse {
  const error: JsonRpcError = { code, message }
  if (data !== undefined) error.data = data
  return { jsonrpc: '2.0', id, error }
}

/** The `_meta` object of a request's params, when it is one. */
export function metaOf(params: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const meta = params?.['_meta']
  return meta !== null && typeof meta === 'object' && !Array.isArray(meta)
    ? (meta as Record<string, unknown>)
    : undefined
}

export const LOG_LEVELS = [
  'debug',
  'info',
  'notice',
  'warning',
  'error',
  'critical',
  'alert',
  'emergency',
] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export function logRank(level: string): number {
  return (LOG_LEVELS as readonly string[]).indexOf(level)
}
