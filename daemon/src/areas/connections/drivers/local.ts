import { createRequire } from 'node:module'
import { isAbsolute, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { ToolContext, ToolSpec } from '@arw/registry'
import type { Logger } from 'pino'
import {
  type ConnectorDriver,
  type JsonSchema,
  type UpstreamCall,
  UpstreamError,
  type UpstreamSession,
  type UpstreamTool,
} from '../driver.ts'

/**
 * The `local` connector: a module outside the daemon's source (a file path, or an npm package
 * installed where the daemon runs) whose exports are tools declared with the public `defineTool`.
 * It is loaded when its link comes up and its tools run in this process, so users add tools without
 * forking; loading it runs its code with the daemon's rights, which is why only admins create
 * connections. Target: `{ module: "/abs/path/tools.mjs" | "./rel/path.ts" | "package-name" }`. A
 * module may also export `ping(signal)`, which health tests call (a throw: the link is unhealthy).
 */

/** What a module exports that counts as a tool: anything shaped like a ToolSpec. */
function isToolSpec(value: unknown): value is ToolSpec {
  if (value === null || typeof value !== 'object') return false
  const spec = value as Partial<ToolSpec>
  return typeof spec.name === 'string' && typeof spec.handler === 'function' && typeof spec.input === 'object'
}

/** The tools a module exports: `tools` (an array), a default export (a tool or an array), or named tool exports. */
export function toolsOf(mod: Record<string, unknown>): ToolSpec[] {
  const candidates: unknown[] = []
  for (const value of Object.values(mod)) {
    if (Array.isArray(value)) candidates.push(...value)
    else candidates.push(value)
  }
  const seen = new Set<ToolSpec>()
  for (const c of candidates) if (isToolSpec(c)) seen.add(c)
  return [...seen]
}

/** Where a module specifier points: paths are resolved from the daemon's working directory. */
function moduleUrl(specifier: string): string {
  if (specifier.startsWith('.') || isAbsolute(specifier)) {
    return pathToFileURL(resolve(specifier)).href
  }
  // A package name: resolved as if imported from the working directory (where users install it).
  const require = createRequire(join(process.cwd(), 'noop.js'))
  try {
    return pathToFileURL(require.resolve(specifier)).href
  } catch {
    return specifier
  }
}

/** A JSON copy of a TypeBox schema: what an upstream would send (no symbols, no functions). */
function plain(schema: unknown): JsonSchema {
  return JSON.parse(JSON.stringify(schema ?? {})) as JsonSchema
}

function contextFor(
  spec: ToolSpec,
  call: UpstreamCall,
  logger: Logger,
  secret: string | undefined,
): ToolContext {
  const refuse = (what: string) => () =>
    Promise.reject(new Error(`${what} is not available to tools of a local connector`))
  const log = logger.child({ local_tool: spec.name })
  return {
    signal: call.signal,
    // The daemon's pipeline authorized the call; the module sees it as the connection's own call.
    principal: { kind: 'system', id: 'connections' },
    trace: call.trace ?? { traceId: '0'.repeat(32), spanId: '0'.repeat(16), flags: '00' },
    tool: spec.name,
    emit: refuse('emit'),
    invoke: refuse('invoke'),
    progress: (update) => call.progress(update),
    usage: () => {},
    client: undefined,
    secret,
    log: {
      info: (message, data) => log.info(data ?? {}, message),
      warn: (message, data) => log.warn(data ?? {}, message),
      error: (message, data) => log.error(data ?? {}, message),
    },
  }
}

/** A module's health check: the connection's secret is passed for a module that wraps a service. */
type Ping = (signal: AbortSignal, secret: string | undefined) => unknown

class LocalSession implements UpstreamSession {
  readonly #tools: Map<string, ToolSpec>
  readonly #logger: Logger
  readonly #ping: Ping | undefined
  readonly #secret: string | undefined

  constructor(tools: ToolSpec[], logger: Logger, ping: Ping | undefined, secret: string | undefined) {
    this.#tools = new Map(tools.map((t) => [t.name, t]))
    this.#logger = logger
    this.#ping = ping
    this.#secret = secret
  }

  async tools(): Promise<UpstreamTool[]> {
    return [...this.#tools.values()].map((spec) => ({
      name: spec.name,
      title: spec.title,
      description: spec.description,
      input: plain(spec.input),
      output: plain(spec.output),
      ...(spec.hints ? { hints: { ...spec.hints } } : {}),
      retrySafe: spec.hints?.idempotent === true || spec.hints?.readOnly === true,
    }))
  }

  async call(tool: string, input: Record<string, unknown>, call: UpstreamCall) {
    const spec = this.#tools.get(tool)
    if (!spec) throw new UpstreamError(`the module has no tool ${tool}`, { status: 404 })
    try {
      return (await spec.handler(
        input as never,
        contextFor(spec, call, this.#logger, this.#secret),
      )) as Record<string, unknown>
    } catch (error) {
      if (error instanceof UpstreamError) throw error
      // A module's failure is the upstream's: its message is an excerpt, its stack stays here.
      const message = error instanceof Error ? error.message : String(error)
      const status = (error as { status?: unknown }).status
      throw new UpstreamError(`local tool ${tool} failed`, {
        excerpt: message,
        ...(typeof status === 'number' ? { status } : {}),
        retryable: (error as { retryable?: unknown }).retryable === true,
        cause: error,
      })
    }
  }

  /** The module's own `ping` export when it has one (a module that wraps a service checks it). */
  async ping(signal: AbortSignal): Promise<void> {
    if (!this.#ping) return
    try {
      await this.#ping(signal, this.#secret)
    } catch (error) {
      throw new UpstreamError('the module ping failed', {
        excerpt: error instanceof Error ? error.message : String(error),
        cause: error,
      })
    }
  }

  async close(): Promise<void> {}
}

export const localDriver: ConnectorDriver = {
  kind: 'local',
  name: 'Local module',
  capabilities: ['tools', 'progress', 'cancel'],
  version: '1.0.0',
  checkTarget(target) {
    const problems: string[] = []
    const module = target['module']
    if (typeof module !== 'string' || module.trim() === '' || module.length > 4096)
      problems.push('target.module must name a module file or an installed package')
    for (const key of Object.keys(target))
      if (key !== 'module') problems.push(`target.${key} is not a setting of the local connector`)
    return problems
  },
  async open({ target, logger, secret }) {
    const specifier = String(target['module'])
    let mod: Record<string, unknown>
    try {
      mod = (await import(moduleUrl(specifier))) as Record<string, unknown>
    } catch (error) {
      throw new UpstreamError(`cannot load module ${specifier}`, {
        excerpt: error instanceof Error ? error.message : String(error),
        cause: error,
      })
    }
    const tools = toolsOf(mod)
    if (tools.length === 0)
      throw new UpstreamError(`module ${specifier} exports no tool (declare them with defineTool)`)
    const ping = typeof mod['ping'] === 'function' ? (mod['ping'] as Ping) : undefined
    return new LocalSession(tools, logger, ping, secret)
  },
}
