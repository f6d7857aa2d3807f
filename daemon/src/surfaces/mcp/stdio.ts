import { randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import { type Principal, traceFrom } from '@arw/protocol'
import type { Services } from '../../services.ts'
import type { Exchange, RequestContext } from './exchange.ts'
import { notification } from './listeners.ts'
import {
  classify,
  errorResponse,
  isModernVersion,
  type JsonRpcRequest,
  type LogLevel,
  logRank,
  META,
  MODERN_VERSIONS,
  metaOf,
  type RequestId,
  RPC,
} from './protocol.ts'
import { mcpState } from './state.ts'

export interface StdioOptions {
  services: Services
  input: Readable
  output: Writable
  /** Who the calls run as; the local user who started the process. */
  principal?: Principal
}

/**
 * The principal of `arw mcp`: the local operator who started it. Whoever can start it can already
 * read and write the state directory, so it holds every permission; its calls are journaled as
 * `operator:stdio`.
 */
export const STDIO_PRINCIPAL: Principal = Object.freeze({ kind: 'operator', id: 'stdio', permissions: ['*'] })

/**
 * MCP over stdio: newline-delimited JSON-RPC on `input`/`output`, served by the same dispatcher
 * as /mcp, so calls take the same pipeline and land in the same journal. One connection is one
 * session: 2025-era clients initialize once; 2026-07-28 clients send the envelope on every
 * request and may `subscriptions/listen`. Requests run concurrently; answers are written as
 * they finish, one line each. Resolves when the input ends.
 */
export async function serveStdio(options: StdioOptions): Promise<void> {
  const { services, input, output } = options
  const principal = options.principal ?? STDIO_PRINCIPAL
  const { dispatcher } = mcpState(services)
  const scope = `stdio:${randomBytes(9).toString('base64url')}`
  const closed = new AbortController()
  let version: string | undefined
  let clientCapabilities: Record<string, unknown> = {}
  const subscriptions = new Map<string, { id: RequestId; tools: boolean; resources: boolean }>()

  const write = (message: object) => {
    if (!closed.signal.aborted) output.write(`${JSON.stringify(message)}\n`)
  }
  const exchange: Exchange = {
    send: (m) => {
      write(m)
      return true
    },
    signal: closed.signal,
  }

  const unsubscribe = dispatcher.onListChanged(() => {
    if (version !== undefined) {
      write(notification('notifications/tools/list_changed', undefined))
      write(notification('notifications/resources/list_changed', undefined))
    }
    for (const s of subscriptions.values()) {
      if (s.tools) write(notification('notifications/tools/list_changed', s.id))
      if (s.resources) write(notification('notifications/resources/list_changed', s.id))
    }
  })

  const serve = async (request: JsonRpcRequest) => {
    const meta = metaOf(request.params)
    const claim = meta?.[META.protocolVersion]
    if (claim !== undefined) {
      if (typeof claim !== 'string' || !isModernVersion(claim)) {
        write(
          errorResponse(
            request.id,
            RPC.unsupportedVersion,
            `Unsupported protocol version: ${String(claim)}`,
            {
              supported: [...MODERN_VERSIONS],
              requested: String(claim),
            },
          ),
        )
        return
      }
      if (request.method === 'subscriptions/listen') {
        const filter = (request.params?.['notifications'] ?? {}) as Record<string, unknown>
        const honored: Record<string, boolean> = {}
        if (filter['toolsListChanged'] === true) honored['toolsListChanged'] = true
        if (filter['resourcesListChanged'] === true) honored['resourcesListChanged'] = true
        subscriptions.set(idKey(request.id), {
          id: request.id,
          tools: honored['toolsListChanged'] === true,
          resources: honored['resourcesListChanged'] === true,
        })
        write(
          notification('notifications/subscriptions/acknowledged', request.id, { notifications: honored }),
        )
        return
      }
      const level = meta?.[META.logLevel]
      const ctx: RequestContext = {
        principal,
        trace: traceFrom(undefined),
        version: claim,
        modern: true,
        scope,
        clientCapabilities: (meta?.[META.clientCapabilities] ?? {}) as Record<string, unknown>,
        logLevel: typeof level === 'string' && logRank(level) >= 0 ? (level as LogLevel) : undefined,
        exchange,
      }
      const response = await dispatcher.request(request, ctx)
      if (response) write(response)
      return
    }
    if (request.method === 'initialize') {
      const params = request.params ?? {}
      version = dispatcher.negotiate(params['protocolVersion'])
      clientCapabilities = (params['capabilities'] ?? {}) as Record<string, unknown>
      write({ jsonrpc: '2.0', id: request.id, result: dispatcher.initializeResult(version) })
      return
    }
    if (version === undefined) {
      write(errorResponse(request.id, RPC.invalidRequest, 'Invalid Request: send initialize first'))
      return
    }
    const ctx: RequestContext = {
      principal,
      trace: traceFrom(undefined),
      version,
      modern: false,
      scope,
      clientCapabilities,
      logLevel: dispatcher.logLevel(scope),
      exchange,
    }
    const response = await dispatcher.request(request, ctx)
    if (response) write(response)
  }

  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })
  const running = new Set<Promise<void>>()
  for await (const line of lines) {
    if (line.trim() === '') continue
    let body: unknown
    try {
      body = JSON.parse(line)
    } catch {
      write(errorResponse(null, RPC.parseError, 'Parse error'))
      continue
    }
    const message = classify(body)
    switch (message.kind) {
      case 'invalid':
        write(errorResponse(null, RPC.invalidRequest, 'Invalid Request'))
        break
      case 'notification': {
        const m = message.message
        if (m.method === 'notifications/cancelled') {
          const requestId = m.params?.['requestId']
          if (
            (typeof requestId === 'string' || typeof requestId === 'number') &&
            subscriptions.delete(idKey(requestId))
          )
            break
        }
        dispatcher.notification(m, scope)
        break
      }
      case 'response':
        dispatcher.response(message.id, message.result, message.error, scope)
        break
      case 'request': {
        const task = serve(message.message).catch((error: unknown) => {
          services.logger.error({ err: error }, 'mcp stdio request failed')
          write(errorResponse(message.message.id, RPC.internalError, 'Internal error'))
        })
        running.add(task)
        void task.finally(() => running.delete(task))
        break
      }
    }
  }
  // Input ended: the client is gone, so calls still running are cancelled like a closed HTTP stream.
  closed.abort()
  await Promise.allSettled([...running])
  unsubscribe()
  dispatcher.forget(scope)
}

function idKey(id: RequestId): string {
  return `${typeof id === 'number' ? 'n' : 's'}${id}`
}
