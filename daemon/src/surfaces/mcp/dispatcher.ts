import {
  decodeCursor,
  ERRORS,
  encodeCursor,
  PROBLEM_TYPE_PREFIX,
  type Problem,
  parseTraceparent,
} from '@arw/protocol'
import type { ClientChannel, ProgressUpdate, RegisteredTool, Registry } from '@arw/registry'
import { emitMcpCatalog, type HttpRouteDoc, type McpTool, mcpNameToRef, specFiles } from '@arw/spec'
import type { Logger } from 'pino'
import { MCP_CLIENT, MCP_CONTENT } from '../../kernel/capabilities.ts'
import { InvokeError, type Pipeline } from '../../pipeline/invoke.ts'
import { CallCancel } from './cancel.ts'
import type { RequestContext } from './exchange.ts'
import {
  errorResponse,
  type JsonRpcError,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  LATEST_LEGACY_VERSION,
  LEGACY_VERSIONS,
  LOG_LEVELS,
  type LogLevel,
  logRank,
  META,
  MODERN_VERSIONS,
  metaOf,
  type RequestId,
  RPC,
} from './protocol.ts'

export interface DispatcherOptions {
  registry: Registry
  pipeline: Pipeline
  logger: Logger
  /** The daemon's version (serverInfo) and its routes (the OpenAPI resource). */
  version: string
  routeDocs: readonly HttpRouteDoc[]
  /** Items per page of tools/list and resources/list. */
  pageSize: number
}

interface Resource {
  uri: string
  name: string
  title: string
  description: string
  mimeType: string
  size: number
  text: string
}

type Result = Record<string, unknown>

const SPEC_URI = 'arw://spec/'
const UNKNOWN_TOOL = new Set(
  [ERRORS.tool_not_found, ERRORS.tool_version_not_found, ERRORS.invalid_tool_id].map(
    (e) => PROBLEM_TYPE_PREFIX + e.name,
  ),
)
const MAX_LOG_SCOPES = 10_000

/** `tools/call` _meta keys that carry what the HTTP surface takes from the body and headers. */
const CALL_META: ReadonlyArray<['taskId' | 'step' | 'idempotencyKey' | 'approvalId', string]> = [
  ['taskId', 'io.arw/task_id'],
  ['step', 'io.arw/step'],
  ['idempotencyKey', 'io.arw/idempotency_key'],
  ['approvalId', 'io.arw/approval_id'],
]

/** The cached JSON rendering of a page, so tools/list costs one lookup once the registry is stable. */
interface Catalog {
  revision: number
  tools: McpTool[]
}

/**
 * The MCP server proper, transport-agnostic: answers one JSON-RPC message at a time for a caller
 * described by a RequestContext. Every `tools/call` goes through `pipeline.invoke` with surface
 * `mcp`, so it is validated, governed, journaled and published exactly like an HTTP invoke.
 */
export class McpDispatcher {
  readonly registry: Registry
  readonly #pipeline: Pipeline
  readonly #log: Logger
  readonly #version: string
  readonly #routeDocs: readonly HttpRouteDoc[]
  readonly #pageSize: number
  /** Calls in flight, by `<scope>\n<id>`: notifications/cancelled aborts them. */
  readonly #inflight = new Map<string, CallCancel>()
  /** Server→client requests waiting for the client's answer, by `<scope>\n<id>`. */
  readonly #pending = new Map<string, { resolve(value: unknown): void; reject(error: Error): void }>()
  /** logging/setLevel, by scope. Per process: a replica that never saw it uses the default. */
  readonly #logLevels = new Map<string, LogLevel>()
  #outgoingId = 0
  #catalog: Catalog | undefined
  #resources: { revision: number; list: Resource[]; byUri: Map<string, Resource> } | undefined

  readonly serverInfo: { name: string; title: string; version: string }

  constructor(options: DispatcherOptions) {
    this.registry = options.registry
    this.#pipeline = options.pipeline
    this.#log = options.logger
    this.#version = options.version
    this.#routeDocs = options.routeDocs
    this.#pageSize = options.pageSize
    this.serverInfo = { name: 'arw', title: 'ARW daemon', version: this.#version }
  }

  /** The revision an `initialize` asking for `requested` gets: the same when supported, else the newest. */
  negotiate(requested: unknown): string {
    return typeof requested === 'string' && (LEGACY_VERSIONS as readonly string[]).includes(requested)
      ? requested
      : LATEST_LEGACY_VERSION
  }

  capabilities(): Result {
    return {
      tools: { listChanged: true },
      resources: { listChanged: true },
      logging: {},
    }
  }

  initializeResult(version: string): Result {
    return {
      protocolVersion: version,
      capabilities: this.capabilities(),
      serverInfo: this.serverInfo,
      instructions:
        'Tools of the ARW daemon. Every call is validated, governed by policy and journaled; failures are isError results whose text is an RFC 7807 problem, also under _meta["io.arw/problem"].',
    }
  }

  discoverResult(): Result {
    return {
      supportedVersions: [...MODERN_VERSIONS],
      capabilities: { tools: { listChanged: true }, resources: { listChanged: true }, logging: {} },
      instructions: (this.initializeResult(LATEST_LEGACY_VERSION) as { instructions: string }).instructions,
      ttlMs: 0,
      cacheScope: 'private',
    }
  }

  /** Answers a request; undefined means no answer is due (the call was cancelled). */
  async request(message: JsonRpcRequest, ctx: RequestContext): Promise<JsonRpcResponse | undefined> {
    const { id, method } = message
    const params = message.params
    let result: Result
    try {
      switch (method) {
        case 'tools/call':
          return await this.#callTool(id, params, ctx)
        case 'tools/list':
          result = this.#listTools(params, ctx)
          break
        case 'resources/list':
          result = this.#listResources(params, ctx)
          break
        case 'resources/templates/list':
          result = { resourceTemplates: this.#templates() }
          if (ctx.modern) Object.assign(result, { ttlMs: 0, cacheScope: 'private' })
          break
        case 'resources/read':
          result = this.#readResource(params, ctx)
          break
        case 'ping':
          if (ctx.modern) return errorResponse(id, RPC.methodNotFound, `Method not found: ${method}`)
          result = {}
          break
        case 'logging/setLevel': {
          if (ctx.modern) return errorResponse(id, RPC.methodNotFound, `Method not found: ${method}`)
          const level = params?.['level']
          if (typeof level !== 'string' || logRank(level) < 0) {
            return errorResponse(id, RPC.invalidParams, `level must be one of ${LOG_LEVELS.join(', ')}`)
          }
          if (ctx.scope !== undefined) this.setLogLevel(ctx.scope, level as LogLevel)
          result = {}
          break
        }
        case 'server/discover':
          if (!ctx.modern) return errorResponse(id, RPC.methodNotFound, `Method not found: ${method}`)
          result = this.discoverResult()
          break
        default:
          return errorResponse(id, RPC.methodNotFound, `Method not found: ${method}`)
      }
    } catch (error) {
      if (error instanceof RpcError) return errorResponse(id, error.code, error.message, error.data)
      this.#log.error({ err: error, method, trace_id: ctx.trace.traceId }, 'mcp request failed')
      return errorResponse(id, RPC.internalError, 'Internal error', { trace_id: ctx.trace.traceId })
    }
    return { jsonrpc: '2.0', id, result: ctx.modern ? this.modernResult(result) : result }
  }

  /** Stamps what every 2026-07-28 result carries. */
  modernResult(result: Result): Result {
    result['resultType'] = 'complete'
    const meta = (result['_meta'] as Record<string, unknown> | undefined) ?? {}
    meta[META.serverInfo] = this.serverInfo
    result['_meta'] = meta
    return result
  }

  /** Client notifications: cancellation; everything else (initialized, roots changes) needs no action. */
  notification(message: JsonRpcNotification, scope: string | undefined): void {
    if (message.method !== 'notifications/cancelled' || scope === undefined) return
    const requestId = message.params?.['requestId']
    if (typeof requestId !== 'string' && typeof requestId !== 'number') return
    this.#inflight.get(key(scope, requestId))?.cancel()
  }

  /** A client's answer to a server→client request. */
  response(id: RequestId, result: unknown, error: JsonRpcError | undefined, scope: string | undefined): void {
    if (scope === undefined) return
    const k = key(scope, id)
    const pending = this.#pending.get(k)
    if (!pending) return
    this.#pending.delete(k)
    if (error) pending.reject(new Error(`client answered ${error.code}: ${error.message}`))
    else pending.resolve(result)
  }

  setLogLevel(scope: string, level: LogLevel): void {
    if (this.#logLevels.size >= MAX_LOG_SCOPES && !this.#logLevels.has(scope)) {
      this.#logLevels.delete(this.#logLevels.keys().next().value!)
    }
    this.#logLevels.set(scope, level)
  }

  logLevel(scope: string | undefined): LogLevel | undefined {
    return (scope !== undefined ? this.#logLevels.get(scope) : undefined) ?? 'info'
  }

  forget(scope: string): void {
    this.#logLevels.delete(scope)
  }

  /** Calls `listener` whenever the tool list (and with it the schema resources) changes. */
  onListChanged(listener: () => void): () => void {
    return this.registry.onChange(() => listener())
  }

  // ---- tools ----

  catalog(): McpTool[] {
    const revision = this.registry.revision
    if (this.#catalog?.revision !== revision)
      this.#catalog = { revision, tools: emitMcpCatalog(this.registry).tools }
    return this.#catalog.tools
  }

  #listTools(params: Result | undefined, ctx: RequestContext): Result {
    const { items, nextCursor } = page(this.catalog(), (t) => t.name, params?.['cursor'], this.#pageSize)
    const result: Result = { tools: items }
    if (nextCursor !== undefined) result['nextCursor'] = nextCursor
    if (ctx.modern) Object.assign(result, { ttlMs: 0, cacheScope: 'private' })
    return result
  }

  async #callTool(
    id: RequestId,
    params: Result | undefined,
    ctx: RequestContext,
  ): Promise<JsonRpcResponse | undefined> {
    const name = params?.['name']
    if (typeof name !== 'string' || name === '')
      return errorResponse(id, RPC.invalidParams, 'params.name must be a tool name')
    const args = params?.['arguments'] ?? {}
    if (args === null || typeof args !== 'object' || Array.isArray(args)) {
      return errorResponse(id, RPC.invalidParams, 'params.arguments must be an object')
    }
    const ref = mcpNameToRef(name)
    const meta = metaOf(params)
    // What HTTP callers put in the invoke body and headers, MCP callers put in _meta.
    const call: Record<string, string> = {}
    for (const [field, key] of CALL_META) {
      const value = meta?.[key]
      if (value === undefined) continue
      if (typeof value !== 'string' || value.length < 1 || value.length > 255) {
        return errorResponse(id, RPC.invalidParams, `_meta["${key}"] must be a string of 1-255 characters`)
      }
      call[field] = value
    }
    const progressToken = meta?.['progressToken']
    let trace = ctx.trace
    const traceparent = meta?.['traceparent']
    if (typeof traceparent === 'string') trace = parseTraceparent(traceparent) ?? trace

    const cancel = new CallCancel()
    const inflightKey = ctx.scope !== undefined ? key(ctx.scope, id) : undefined
    if (inflightKey !== undefined) this.#inflight.set(inflightKey, cancel)
    // The transport's "client went away" signal is looked at only when someone watches.
    let unfollow: (() => void) | undefined
    const watchCancel = (onCancel: () => void) => {
      unfollow ??= cancel.follow(ctx.exchange.signal)
      return cancel.watch(onCancel)
    }
    const tool = this.registry.tryResolve(ref)
    let client: ClientChannel | undefined
    if (tool?.capabilities.includes(MCP_CLIENT)) {
      const controller = new AbortController()
      watchCancel(() => controller.abort())
      client = this.#channel(ctx, controller.signal)
    }
    try {
      const outcome = await this.#pipeline.invoke({
        ref,
        input: args,
        principal: ctx.principal,
        trace,
        surface: 'mcp',
        instance: `mcp:tools/call/${name}`,
        ...call,
        watchCancel,
        ...(client ? { client } : {}),
        ...(typeof progressToken === 'string' || typeof progressToken === 'number'
          ? { onProgress: (update: ProgressUpdate) => this.#progress(ctx, progressToken, update) }
          : {}),
      })
      // A cancelled request gets no response (the client has stopped waiting for one).
      if (cancel.aborted) return undefined
      const result = renderOutput(outcome.result.output, outcome.tool)
      return { jsonrpc: '2.0', id, result: ctx.modern ? this.modernResult(result) : result }
    } catch (error) {
      if (cancel.aborted) return undefined
      if (!(error instanceof InvokeError)) throw error
      const problem = error.problem
      if (UNKNOWN_TOOL.has(problem.type))
        return errorResponse(id, RPC.invalidParams, `Unknown tool: ${name}`, problem)
      const result = renderProblem(problem)
      return { jsonrpc: '2.0', id, result: ctx.modern ? this.modernResult(result) : result }
    } finally {
      unfollow?.()
      if (inflightKey !== undefined) this.#inflight.delete(inflightKey)
    }
  }

  #progress(ctx: RequestContext, progressToken: string | number, update: ProgressUpdate): void {
    const params: Result = { progressToken, progress: update.progress }
    if (update.total !== undefined) params['total'] = update.total
    if (update.message !== undefined) params['message'] = update.message
    ctx.exchange.send({ jsonrpc: '2.0', method: 'notifications/progress', params })
  }

  #channel(ctx: RequestContext, signal: AbortSignal): ClientChannel {
    return {
      capabilities: ctx.clientCapabilities ?? {},
      log: (level, data, logger) => {
        const min = ctx.modern ? ctx.logLevel : this.logLevel(ctx.scope)
        if (min === undefined || logRank(level) < 0 || logRank(level) < logRank(min)) return
        const params: Result = { level, data }
        if (logger !== undefined) params['logger'] = logger
        ctx.exchange.send({ jsonrpc: '2.0', method: 'notifications/message', params })
      },
      request: (method, params) => {
        if (ctx.modern || ctx.scope === undefined) {
          return Promise.reject(new Error(`${method} needs a 2025-era session; this request cannot carry it`))
        }
        const requestId = `arw-${++this.#outgoingId}`
        const k = key(ctx.scope, requestId)
        return new Promise<unknown>((resolve, reject) => {
          const onAbort = () => {
            this.#pending.delete(k)
            reject(new Error('call cancelled'))
          }
          signal.addEventListener('abort', onAbort, { once: true })
          this.#pending.set(k, {
            resolve: (value) => {
              signal.removeEventListener('abort', onAbort)
              resolve(value)
            },
            reject: (error) => {
              signal.removeEventListener('abort', onAbort)
              reject(error)
            },
          })
          if (!ctx.exchange.send({ jsonrpc: '2.0', id: requestId, method, params })) {
            this.#pending.delete(k)
            signal.removeEventListener('abort', onAbort)
            reject(
              new Error(`the client cannot receive ${method} on this transport (it accepts no event stream)`),
            )
          }
        })
      },
      closeStream: () => ctx.exchange.closeStream?.(),
    }
  }

  // ---- resources: the spec artifacts ----

  #resourceSet(): { list: Resource[]; byUri: Map<string, Resource> } {
    const revision = this.registry.revision
    if (this.#resources?.revision === revision) return this.#resources
    const files = specFiles({ registry: this.registry, routes: this.#routeDocs, version: this.#version })
    const list: Resource[] = []
    for (const [path, text] of files) {
      const mimeType = path.endsWith('.yaml') ? 'application/yaml' : 'application/json'
      const schema = path.startsWith('schemas/')
      const title = schema
        ? `JSON Schema of ${path.slice('schemas/'.length, -'.json'.length)}`
        : path === 'openapi.yaml'
          ? 'OpenAPI 3.1 document'
          : path === 'asyncapi.yaml'
            ? 'AsyncAPI 3.0 document'
            : 'MCP tool catalog'
      list.push({
        uri: SPEC_URI + path,
        name: path,
        title,
        description: schema
          ? 'JSON Schema 2020-12 of one tool version: input, output and the problems it can answer.'
          : `${title} of this daemon, generated from the same declarations it serves.`,
        mimeType,
        size: Buffer.byteLength(text),
        text,
      })
    }
    list.sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0))
    this.#resources = { revision, list, byUri: new Map(list.map((r) => [r.uri, r])) }
    return this.#resources
  }

  #listResources(params: Result | undefined, ctx: RequestContext): Result {
    const { items, nextCursor } = page(
      this.#resourceSet().list,
      (r) => r.uri,
      params?.['cursor'],
      this.#pageSize,
    )
    const result: Result = {
      resources: items.map(({ uri, name, title, description, mimeType, size }) => ({
        uri,
        name,
        title,
        description,
        mimeType,
        size,
      })),
    }
    if (nextCursor !== undefined) result['nextCursor'] = nextCursor
    if (ctx.modern) Object.assign(result, { ttlMs: 0, cacheScope: 'private' })
    return result
  }

  #templates(): Result[] {
    return [
      {
        uriTemplate: `${SPEC_URI}schemas/{tool_id}.json`,
        name: 'tool-schema',
        title: 'JSON Schema of a tool version',
        description: 'JSON Schema 2020-12 of one tool version; tool_id is <name>@<version>.',
        mimeType: 'application/json',
      },
    ]
  }

  #readResource(params: Result | undefined, ctx: RequestContext): Result {
    const uri = params?.['uri']
    if (typeof uri !== 'string') throw new RpcError(RPC.invalidParams, 'params.uri must be a string')
    const resource = this.#resourceSet().byUri.get(uri)
    if (!resource) throw new RpcError(RPC.invalidParams, `Resource not found: ${uri}`, { uri })
    const result: Result = { contents: [{ uri, mimeType: resource.mimeType, text: resource.text }] }
    if (ctx.modern) Object.assign(result, { ttlMs: 0, cacheScope: 'private' })
    return result
  }
}

class RpcError extends Error {
  readonly code: number
  readonly data: unknown
  constructor(code: number, message: string, data?: unknown) {
    super(message)
    this.code = code
    this.data = data
  }
}

function key(scope: string, id: RequestId): string {
  return `${scope}\n${typeof id === 'number' ? 'n' : 's'}${id}`
}

/** One page of a list sorted by `keyOf`; the cursor names the last key served, so pages stay stable under change. */
function page<T>(
  all: readonly T[],
  keyOf: (item: T) => string,
  cursor: unknown,
  size: number,
): { items: T[]; nextCursor: string | undefined } {
  let start = 0
  if (cursor !== undefined) {
    const after = typeof cursor === 'string' ? decodeCursor<{ after?: unknown }>(cursor)?.after : undefined
    if (typeof after !== 'string') throw new RpcError(RPC.invalidParams, 'Invalid cursor')
    let lo = 0
    let hi = all.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (keyOf(all[mid]!) <= after) lo = mid + 1
      else hi = mid
    }
    start = lo
  }
  const items = all.slice(start, start + size)
  const nextCursor =
    start + size < all.length ? encodeCursor({ after: keyOf(items[items.length - 1]!) }) : undefined
  return { items, nextCursor }
}

/** A successful call: the output as structured content, with its JSON as the text rendering. */
function renderOutput(output: unknown, tool: RegisteredTool): Result {
  if (tool.capabilities.includes(MCP_CONTENT)) {
    const content = (output as { content?: unknown }).content
    if (Array.isArray(content)) return { content, structuredContent: output }
  }
  return { content: [{ type: 'text', text: JSON.stringify(output) }], structuredContent: output }
}

/** Where an isError result carries its problem as structured data. */
export const PROBLEM_META = 'io.arw/problem'

/**
 * A failed call: the RFC 7807 problem the HTTP surface answers, as an isError result: its JSON is
 * the text content, and the object itself is under `_meta["io.arw/problem"]`. Not in
 * `structuredContent`: the official 1.x SDK client checks any structuredContent against the tool's
 * output schema, error or not, and would turn the problem into an exception of its own.
 */
function renderProblem(problem: Problem): Result {
  return {
    content: [{ type: 'text', text: JSON.stringify(problem) }],
    _meta: { [PROBLEM_META]: problem },
    isError: true,
  }
}
