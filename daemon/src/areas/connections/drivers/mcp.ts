import type { Readable } from 'node:stream'
import { formatTraceparent, isProblemError } from '@arw/protocol'
import type { ProgressUpdate, ToolHints } from '@arw/registry'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { Tool } from '@modelcontextprotocol/sdk/types.js'
import type { Logger } from 'pino'
import {
  type ConnectorDriver,
  type JsonSchema,
  type OpenOptions,
  redactor,
  type UpstreamCall,
  UpstreamError,
  type UpstreamSession,
  type UpstreamTool,
} from '../driver.ts'
import { type SessionFetch, sessionFetch } from './mcp-fetch.ts'
import type { McpHttpTransport } from './mcp-http-transport.ts'

/**
 * The `mcp` connector: an MCP server reached through the official SDK's client, either a command the
 * daemon starts and talks to over stdio, or a Streamable HTTP endpoint.
 *
 *   { command, args?, env?, cwd?, secretEnv? }   stdio; the bound secret goes into env `secretEnv`
 *   { url, headers? }                            Streamable HTTP; the secret as `Authorization: Bearer`
 *
 * The SDK is loaded when the first MCP connection opens: it costs a quarter of a second of start-up
 * (zod, ajv) that a daemon without MCP connections should not pay.
 */

const DRIVER_VERSION = '1.0.0'

/** JSON-RPC codes the SDK's Protocol uses for its own failures (ErrorCode in the SDK's types). */
const CONNECTION_CLOSED = -32000
const REQUEST_TIMEOUT = -32001

const FORGOTTEN = 'the upstream forgot the session'

/** How long opening a session may take when the caller's signal does not end it sooner. */
const OPEN_TIMEOUT_MS = 30_000
/** How long a ping that checks whether a broken stream means a dead upstream may take. */
const PROBE_TIMEOUT_MS = 2_000
/** A paginated tools/list that never ends is an upstream bug; stop after this many pages. */
const MAX_TOOL_PAGES = 100
/** A line of a stdio server's stderr longer than this is cut before it reaches the log. */
const MAX_STDERR_LINE = 1_000

/**
 * What a call returns when the upstream tool declares no output schema: its content blocks as MCP
 * sends them. Declared on the imported tool so its output check matches what `call` returns.
 */
export const CONTENT_RESULT_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    content: { type: 'array', items: { type: 'object' } },
    isError: { type: 'boolean' },
  },
  required: ['content'],
}

const STDIO_KEYS = new Set(['command', 'args', 'env', 'cwd', 'secretEnv'])
const HTTP_KEYS = new Set(['url', 'headers'])
/** Characters that mean something only to a shell; the command runs without one, so they are a mistake. */
const SHELL_SYNTAX = /[|&;<>()$`\\"'*?[\]#~\n\r\0]/
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string')
  )
}

export function checkMcpTarget(target: Record<string, unknown>): string[] {
  const problems: string[] = []
  const hasCommand = 'command' in target
  const hasUrl = 'url' in target
  if (hasCommand === hasUrl) {
    return ['an mcp target has either `command` (stdio) or `url` (Streamable HTTP), not both or neither']
  }
  const allowed = hasCommand ? STDIO_KEYS : HTTP_KEYS
  for (const key of Object.keys(target)) {
    if (!allowed.has(key))
      problems.push(`\`${key}\` is not a field of an ${hasCommand ? 'stdio' : 'HTTP'} mcp target`)
  }
  if (hasCommand) {
    const { command, args, env, cwd, secretEnv } = target
    if (typeof command !== 'string' || command.trim() === '') {
      problems.push('`command` must be a non-empty string (the program to run)')
    } else if (SHELL_SYNTAX.test(command) || command !== command.trim()) {
      problems.push('`command` is run without a shell: give the program alone, its arguments in `args`')
    }
    if (
      args !== undefined &&
      !(Array.isArray(args) && args.every((a) => typeof a === 'string' && !a.includes('\0')))
    ) {
      problems.push('`args` must be an array of strings')
    }
    if (env !== undefined) {
      if (!isStringRecord(env)) problems.push('`env` must map variable names to strings')
      else if (!Object.keys(env).every((k) => ENV_NAME.test(k)))
        problems.push('`env` has an invalid variable name')
    }
    if (cwd !== undefined && (typeof cwd !== 'string' || cwd === '' || cwd.includes('\0'))) {
      problems.push('`cwd` must be a directory path')
    }
    if (secretEnv !== undefined && (typeof secretEnv !== 'string' || !ENV_NAME.test(secretEnv))) {
      problems.push('`secretEnv` must be an environment variable name, e.g. API_TOKEN')
    }
    return problems
  }
  const { url, headers } = target
  let parsed: URL | undefined
  try {
    parsed = typeof url === 'string' ? new URL(url) : undefined
  } catch {
    parsed = undefined
  }
  if (!parsed) problems.push('`url` must be an absolute URL')
  else if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    problems.push('`url` must be http or https')
  else if (parsed.username !== '' || parsed.password !== '') {
    problems.push('`url` must not carry credentials: bind the token as the connection secret')
  }
  if (headers !== undefined) {
    if (!isStringRecord(headers)) problems.push('`headers` must map header names to strings')
    else {
      for (const name of Object.keys(headers)) {
        if (!HEADER_NAME.test(name)) problems.push(`\`headers\` has an invalid header name`)
        else if (name.toLowerCase() === 'authorization') {
          problems.push('`headers` must not set Authorization: bind the token as the connection secret')
        }
      }
    }
  }
  return problems
}

/** MCP annotations to registry hints, with the defaults the MCP spec gives to an absent hint. */
function hintsOf(annotations: Tool['annotations']): ToolHints {
  const readOnly = annotations?.readOnlyHint ?? false
  return {
    readOnly,
    // The spec: destructive and open-world unless the server says otherwise; policy sees the worst case.
    destructive: readOnly ? false : (annotations?.destructiveHint ?? true),
    idempotent: annotations?.idempotentHint ?? false,
    openWorld: annotations?.openWorldHint ?? true,
  }
}

function toUpstreamTool(tool: Tool): UpstreamTool {
  const hints = hintsOf(tool.annotations)
  const title = tool.title ?? tool.annotations?.title
  return {
    name: tool.name,
    ...(title !== undefined ? { title } : {}),
    ...(tool.description !== undefined ? { description: tool.description } : {}),
    input: tool.inputSchema as JsonSchema,
    output: (tool.outputSchema as JsonSchema | undefined) ?? CONTENT_RESULT_SCHEMA,
    hints,
    retrySafe: hints.readOnly === true || hints.idempotent === true,
  }
}

/** The text of an error result, for the bounded excerpt the caller sees. */
function textOf(content: unknown): string {
  if (!Array.isArray(content)) return ''
  return content
    .filter(
      (block): block is { type: 'text'; text: string } =>
        block?.type === 'text' && typeof block.text === 'string',
    )
    .map((block) => block.text)
    .join('\n')
}

/** Network failures that happen before a request reaches the upstream (nothing was delivered). */
const NOT_DELIVERED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'])

function causeCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') return code
  }
  return undefined
}

/** The SDK's error classes are loaded lazily, so errors are told apart by shape. */
function jsonRpcCode(error: unknown): number | undefined {
  if (error instanceof Error && error.name === 'McpError') return (error as { code?: number }).code
  return undefined
}

function httpStatus(error: unknown): number | undefined {
  if (error instanceof Error && error.constructor.name === 'StreamableHTTPError') {
    const code = (error as { code?: unknown }).code
    return typeof code === 'number' && code >= 100 ? code : undefined
  }
  return undefined
}

function toUpstreamError(
  error: unknown,
  what: string,
  signal: AbortSignal | undefined,
  redact: (t: string) => string,
): unknown {
  // A request the egress policy refused (egress_denied) was never sent: no upstream failure.
  if (error instanceof UpstreamError || isProblemError(error)) return error
  // The caller's own cancellation (or the pipeline's deadline) is no upstream failure: neither
  // retried nor counted by the breaker. It ends the call with the reason it was aborted with.
  if (signal?.aborted) return signal.reason ?? error
  const message = redact(error instanceof Error ? error.message : String(error))
  const code = jsonRpcCode(error)
  if (code === REQUEST_TIMEOUT)
    return new UpstreamError(`${what}: timed out`, { timedOut: true, cause: error })
  if (code === CONNECTION_CLOSED) {
    // The request may have reached the upstream before the connection went: not safe to repeat.
    return new UpstreamError(`${what}: the upstream connection closed`, { excerpt: message, cause: error })
  }
  if (code !== undefined)
    return new UpstreamError(`${what}: upstream error ${code}`, { excerpt: message, cause: error })
  const status = httpStatus(error)
  if (status !== undefined) {
    const retryAfterMs = (error as { retryAfterMs?: unknown }).retryAfterMs
    return new UpstreamError(`${what}: upstream answered HTTP ${status}`, {
      status,
      excerpt: message,
      // Set by the driver's transport (mcp-http-transport.ts) from the answer's Retry-After.
      ...(typeof retryAfterMs === 'number' ? { retryAfterMs } : {}),
      // 429 and 503 say the request was not processed; 404 that the session (or endpoint) was not
      // there to process it. A new session may take it.
      retryable: status === 404 || status === 429 || status === 503,
      cause: error,
    })
  }
  const network = causeCode(error)
  if (network !== undefined && NOT_DELIVERED.has(network)) {
    return new UpstreamError(`${what}: upstream unreachable (${network})`, { retryable: true, cause: error })
  }
  // The stdio transport refuses to send once its process is gone: nothing went out.
  if (message === 'Not connected') {
    return new UpstreamError(`${what}: the upstream is not running`, { retryable: true, cause: error })
  }
  return new UpstreamError(`${what}: ${network ?? 'failed'}`, { excerpt: message, cause: error })
}

/** A tools/call result as the call answers it; an `isError` result is an UpstreamError. */
function resultOf(
  raw: Record<string, unknown>,
  what: string,
  redact: (t: string) => string,
): Record<string, unknown> {
  const { content, structuredContent, isError } = raw
  if (isError === true) {
    throw new UpstreamError(`${what}: the tool reported an error`, { excerpt: redact(textOf(content)) })
  }
  if (content !== undefined && !Array.isArray(content)) {
    throw new UpstreamError(`${what}: the upstream answered a malformed result (content is not an array)`)
  }
  if (structuredContent !== undefined) {
    if (
      typeof structuredContent !== 'object' ||
      structuredContent === null ||
      Array.isArray(structuredContent)
    ) {
      throw new UpstreamError(
        `${what}: the upstream answered a malformed result (structuredContent is not an object)`,
      )
    }
    return structuredContent as Record<string, unknown>
  }
  return { content: content ?? [] }
}

/**
 * A call's `_meta`: our progress token, and the call's W3C trace as `traceparent` (the key the
 * daemon's own MCP surface reads), so an upstream that traces continues the caller's trace.
 */
function metaOf(token: string, call: UpstreamCall): Record<string, unknown> {
  return call.trace
    ? { progressToken: token, traceparent: formatTraceparent(call.trace) }
    : { progressToken: token }
}

class McpSession implements UpstreamSession {
  readonly #client: Client
  readonly #transport: Transport
  /** The Streamable HTTP transport, which sends tools/call itself once the session is open. */
  readonly #lean: McpHttpTransport | undefined
  readonly #redact: (text: string) => string
  readonly #logger: Logger
  readonly #changed = new Set<() => void>()
  readonly #closedListeners = new Set<(reason: string) => void>()
  /**
   * Progress listeners by token. The SDK's own `onprogress` drops the last update when it arrives
   * together with the result (it handles the result at once, notifications a microtask later, and
   * forgets the listener in between), so calls carry a token of ours and progress is routed here;
   * a call's listener goes only after its result has been handled.
   */
  readonly #progress = new Map<string, (update: ProgressUpdate) => void>()
  #calls = 0
  /** How to fail each call in flight, when a probe finds the upstream gone. */
  readonly #inflight = new Set<(error: UpstreamError) => void>()
  #schemas!: { result: typeof import('@modelcontextprotocol/sdk/types.js').ResultSchema }
  #closed: string | undefined
  #probing = false

  readonly #release: () => void

  constructor(
    client: Client,
    transport: Transport,
    redact: (text: string) => string,
    logger: Logger,
    release: () => void,
    lean?: McpHttpTransport,
  ) {
    this.#release = release
    this.#client = client
    this.#transport = transport
    this.#lean = lean
    this.#redact = redact
    this.#logger = logger
  }

  /** Wires the SDK's notifications; called before connecting so nothing sent right after is missed. */
  async listen(): Promise<void> {
    const { ProgressNotificationSchema, ResultSchema, ToolListChangedNotificationSchema } = await import(
      '@modelcontextprotocol/sdk/types.js'
    )
    this.#schemas = { result: ResultSchema }
    this.#client.setNotificationHandler(ProgressNotificationSchema, ({ params }) => {
      const update: ProgressUpdate = { progress: params.progress }
      if (params.total !== undefined) update.total = params.total
      if (params.message !== undefined) update.message = params.message
      this.#progress.get(String(params.progressToken))?.(update)
    })
    this.#client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      for (const listener of [...this.#changed]) listener()
    })
    this.#client.onclose = () => this.died('the upstream closed the connection')
    this.#client.onerror = () => this.probe()
  }

  async tools(): Promise<UpstreamTool[]> {
    if (this.#client.getServerCapabilities()?.tools === undefined) return []
    const tools: UpstreamTool[] = []
    const seen = new Set<string>()
    let cursor: string | undefined
    for (let page = 0; page < MAX_TOOL_PAGES; page++) {
      let answer: Awaited<ReturnType<Client['listTools']>>
      try {
        answer = await this.#client.listTools(cursor === undefined ? undefined : { cursor })
      } catch (error) {
        this.noticed(error)
        throw toUpstreamError(error, 'tools/list', undefined, this.#redact)
      }
      for (const tool of answer.tools) {
        // A tool that only runs as a task needs the SDK's experimental task API; not callable here.
        if (tool.execution?.taskSupport === 'required') {
          this.#logger.warn({ tool: tool.name }, 'mcp upstream tool skipped: it runs only as a task')
          continue
        }
        tools.push(toUpstreamTool(tool))
      }
      cursor = answer.nextCursor
      if (cursor === undefined || seen.has(cursor)) return tools
      seen.add(cursor)
    }
    throw new UpstreamError(`tools/list: more than ${MAX_TOOL_PAGES} pages`)
  }

  async call(
    tool: string,
    input: Record<string, unknown>,
    call: UpstreamCall,
  ): Promise<Record<string, unknown>> {
    const what = `tools/call ${tool}`
    if (this.#closed !== undefined) {
      // Nothing is sent on a session that is over: safe to send again on the next one.
      throw new UpstreamError(`${what}: the session is closed (${this.#closed})`, { retryable: true })
    }
    const token = `arw-${++this.#calls}`
    this.#progress.set(token, call.progress)
    const params = { name: tool, arguments: input, _meta: metaOf(token, call) }
    // The call's deadline is absolute (the pipeline cuts it off then): progress does not extend it.
    const timeoutMs = Math.max(1, Math.floor(call.timeoutMs))
    let raw: Record<string, unknown>
    try {
      const lean = this.#lean
      raw = lean?.ready
        ? await lean.call(params, call.signal, timeoutMs)
        : await this.#sdkCall(params, call, timeoutMs)
    } catch (error) {
      this.noticed(error)
      throw toUpstreamError(error, what, call.signal, this.#redact)
    } finally {
      this.#progress.delete(token)
    }
    return resultOf(raw, what, this.#redact)
  }

  /** A tools/call through the SDK's Protocol (stdio). */
  async #sdkCall(
    params: Record<string, unknown>,
    call: UpstreamCall,
    timeoutMs: number,
  ): Promise<Record<string, unknown>> {
    // The SDK never removes its abort listener from a request's signal: aborted after the answer
    // (the pipeline aborts a call's signal when it ends in a timeout or failure) it would still send
    // notifications/cancelled. So the SDK gets a signal of its own, tied to the caller's only while
    // the request is out.
    const local = new AbortController()
    const forward = () => local.abort(call.signal.reason)
    if (call.signal.aborted) forward()
    else call.signal.addEventListener('abort', forward, { once: true })
    try {
      // Requested with the SDK's loose result schema, not CallToolResultSchema: the pipeline checks
      // the output against the imported schema anyway, and a second deep parse per call costs.
      const request = this.#client.request({ method: 'tools/call', params }, this.#schemas.result, {
        signal: local.signal,
        timeout: timeoutMs,
      })
      return await new Promise<Record<string, unknown>>((resolve, reject) => {
        const lost = (error: UpstreamError) => {
          reject(error)
          local.abort(error)
        }
        this.#inflight.add(lost)
        request.then(resolve, reject).finally(() => this.#inflight.delete(lost))
      })
    } finally {
      call.signal.removeEventListener('abort', forward)
    }
  }

  async ping(signal: AbortSignal): Promise<void> {
    try {
      await this.#client.ping({ signal })
    } catch (error) {
      this.noticed(error)
      throw toUpstreamError(error, 'ping', signal, this.#redact)
    }
  }

  onToolsChanged(listener: () => void): () => void {
    this.#changed.add(listener)
    return () => this.#changed.delete(listener)
  }

  onClosed(listener: (reason: string) => void): () => void {
    if (this.#closed !== undefined) {
      queueMicrotask(() => listener(this.#closed!))
      return () => undefined
    }
    this.#closedListeners.add(listener)
    return () => this.#closedListeners.delete(listener)
  }

  /**
   * A request failed: a 404 on a session means the server forgot it (restarted): the session is
   * over. Other failures are for `probe` to judge.
   */
  noticed(error: unknown): void {
    if (httpStatus(error) === 404) this.died(FORGOTTEN)
  }

  /**
   * The transport reported an error (a stream broke, a request could not be sent): the upstream
   * may be gone, or only one connection. A ping tells which. When the upstream does not answer,
   * the calls in flight fail at once (the SDK 1.x client would leave a call whose response stream
   * broke waiting for its timeout); the session stays, as an HTTP session outlives a server that
   * is briefly unreachable; a server that comes back without it answers 404 and ends it.
   */
  probe(): void {
    if (this.#probing || this.#closed !== undefined) return
    this.#probing = true
    this.#client
      .ping({ timeout: PROBE_TIMEOUT_MS })
      .catch((error: unknown) => {
        if (httpStatus(error) === 404) return this.died(FORGOTTEN)
        const lost = new UpstreamError('the upstream stopped answering during the call', {
          excerpt: this.#redact(error instanceof Error ? error.message : String(error)),
        })
        for (const fail of [...this.#inflight]) fail(lost)
        this.#lean?.failCalls(lost, true)
      })
      .finally(() => {
        this.#probing = false
      })
  }

  /** The session is unusable: tell the listeners once, and let go of the transport. */
  died(reason: string): void {
    if (this.#closed !== undefined) return
    this.#closed = reason
    this.#logger.info({ reason }, 'mcp upstream session closed')
    for (const listener of [...this.#closedListeners]) listener(reason)
    this.#closedListeners.clear()
    this.#client
      .close()
      .catch(() => undefined)
      .finally(this.#release)
  }

  async close(): Promise<void> {
    if (this.#closed !== undefined) return
    this.#closed = 'closed by the daemon'
    this.#closedListeners.clear()
    // Tell an HTTP server it may drop the session (a stdio server is ended by closing its stdin).
    const terminate = (this.#transport as { terminateSession?: () => Promise<void> }).terminateSession
    if (terminate) {
      await Promise.race([
        terminate.call(this.#transport).catch(() => undefined),
        new Promise((resolve) => setTimeout(resolve, PROBE_TIMEOUT_MS).unref()),
      ])
    }
    await this.#client.close().catch(() => undefined)
    this.#release()
  }
}

async function openMcp({ target, secret, signal, logger, egress }: OpenOptions): Promise<UpstreamSession> {
  const redact = redactor(secret)
  const [{ Client }, { StdioClientTransport }, { StreamableHTTPClientTransport, StreamableHTTPError }] =
    await Promise.all([
      import('@modelcontextprotocol/sdk/client/index.js'),
      import('@modelcontextprotocol/sdk/client/stdio.js'),
      import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
    ])
  const client = new Client({ name: 'arw', version: DRIVER_VERSION }, { capabilities: {} })
  let transport: Transport
  let lean: McpHttpTransport | undefined
  let release = () => {}
  let where: string
  let http: SessionFetch | undefined
  if (typeof target['command'] === 'string') {
    const env: Record<string, string> = { ...((target['env'] as Record<string, string> | undefined) ?? {}) }
    const secretEnv = target['secretEnv'] as string | undefined
    if (secretEnv !== undefined && secret !== undefined) env[secretEnv] = secret
    const stdio = new StdioClientTransport({
      command: target['command'],
      args: (target['args'] as string[] | undefined) ?? [],
      env,
      ...(typeof target['cwd'] === 'string' ? { cwd: target['cwd'] } : {}),
      stderr: 'pipe',
    })
    forwardStderr(stdio.stderr as Readable | null, logger, redact)
    transport = stdio
    where = `mcp server ${target['command']}`
  } else {
    const headers: Record<string, string> = {
      ...((target['headers'] as Record<string, string> | undefined) ?? {}),
    }
    if (secret !== undefined) headers['authorization'] = `Bearer ${secret}`
    const url = new URL(target['url'] as string)
    http = sessionFetch(egress)
    release = http.close
    const sdk = new StreamableHTTPClientTransport(url, { requestInit: { headers }, fetch: http.fetch })
    const { McpHttpTransport } = await import('./mcp-http-transport.ts')
    lean = new McpHttpTransport(url, headers, sdk, StreamableHTTPError, egress)
    transport = lean
    where = `mcp server at ${url.origin}${url.pathname}`
  }
  const session = new McpSession(client, transport, redact, logger, release, lean)
  await session.listen()
  const closeOnAbort = () => client.close().catch(() => undefined)
  signal.addEventListener('abort', closeOnAbort, { once: true })
  try {
    await client.connect(transport, { signal, timeout: OPEN_TIMEOUT_MS })
  } catch (error) {
    await client.close().catch(() => undefined)
    release()
    // The area aborts an open that takes longer than the connection's timeout.
    if (signal.aborted)
      throw new UpstreamError(`connecting to ${where}: no answer in time`, { timedOut: true })
    // A handshake refused with 429 or 503: the link is tried again no sooner than it asked.
    const retryAfterMs = http?.refusedRetryAfterMs()
    const status = httpStatus(error)
    if (retryAfterMs !== undefined && (status === 429 || status === 503) && error instanceof Error)
      Object.assign(error, { retryAfterMs })
    throw toUpstreamError(error, `connecting to ${where}`, undefined, redact)
  } finally {
    signal.removeEventListener('abort', closeOnAbort)
  }
  return session
}

/** A stdio server's stderr goes to the daemon's log, line by line, cut short and without the secret. */
function forwardStderr(stream: Readable | null, logger: Logger, redact: (t: string) => string): void {
  if (!stream) return
  let pending = ''
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => {
    pending += chunk
    const lines = pending.split('\n')
    pending = (lines.pop() ?? '').slice(-MAX_STDERR_LINE)
    for (const line of lines) {
      if (line.trim() !== '')
        logger.debug({ stderr: redact(line.slice(0, MAX_STDERR_LINE)) }, 'mcp upstream stderr')
    }
  })
}

export const mcpDriver: ConnectorDriver = {
  kind: 'mcp',
  name: 'MCP server',
  capabilities: [
    'tools',
    'progress',
    'cancel',
    'tools:list_changed',
    'transport:stdio',
    'transport:http',
    'auth:bearer',
    'retry-after',
  ],
  version: DRIVER_VERSION,
  checkTarget: checkMcpTarget,
  open: openMcp,
}
