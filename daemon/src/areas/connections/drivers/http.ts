import { formatTraceparent, isProblemError } from '@arw/protocol'
import { parse as parseYaml } from 'yaml'
import {
  type ConnectorDriver,
  type EgressCheck,
  type OpenOptions,
  parseRetryAfter,
  redactor,
  refusalRetryAfter,
  type UpstreamCall,
  UpstreamError,
  type UpstreamSession,
  type UpstreamTool,
} from '../driver.ts'
import { buildRequest, RequestBuildError } from './http-request.ts'
import {
  type ImportedDocument,
  type ImportProblem,
  importDocument,
  OpenApiDocumentError,
  type Operation,
} from './openapi-import.ts'
import { isRecord } from './openapi-schema.ts'

/**
 * The `http` driver: a REST service described by an OpenAPI 3.0 or 3.1 document, each operation
 * one tool (openapi-import.ts reads them, http-request.ts builds their requests).
 *
 * Target: `{ openapi: <http(s) URL of the document, JSON or YAML> | <the document itself>,
 * baseUrl?: <http(s) URL> }`. Requests go to `baseUrl`, else to the operation's or the document's
 * first server (a relative one resolved against the document's URL).
 *
 * Failures: a non-2xx answer is an `UpstreamError` with its status and an excerpt of its body (the
 * secret cut out if the upstream echoes it). 429, and 503 with `Retry-After`, say the request was
 * not acted on: retryable, with `retryAfterMs`. Other 5xx (and 408, a dropped connection) are
 * retryable only for methods safe to repeat (GET, HEAD, PUT, DELETE, OPTIONS; the tool's
 * `retrySafe`). A connection refused or a host not found means nothing was sent: retryable.
 * Redirects are not followed (a secret must not travel to a host nobody configured): a 3xx is an
 * upstream error naming its `Location`. The document itself is fetched without a secret, and its
 * redirects (at most 5) are followed, each hop passing the egress gate like every request here.
 */

/** Largest document or answer body read (bytes); a larger one is refused rather than buffered. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024
/** Redirects followed when fetching the OpenAPI document. */
const MAX_REDIRECTS = 5
const TARGET_KEYS = new Set(['openapi', 'baseUrl'])
/** Errors (undici's cause codes) raised before a request left: nothing reached the upstream. */
const NOT_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
])

function httpUrl(value: unknown): URL | undefined {
  if (typeof value !== 'string') return undefined
  try {
    const url = new URL(value)
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined
  } catch {
    return undefined
  }
}

function checkTarget(target: Record<string, unknown>): string[] {
  const problems: string[] = []
  for (const key of Object.keys(target)) {
    if (!TARGET_KEYS.has(key))
      problems.push(`target.${key} is not a field of an http target (openapi, baseUrl)`)
  }
  const openapi = target['openapi']
  if (openapi === undefined)
    problems.push('target.openapi is required: the URL of an OpenAPI document, or the document')
  else if (!isRecord(openapi) && httpUrl(openapi) === undefined) {
    problems.push('target.openapi must be an http(s) URL or an OpenAPI document object')
  }
  if (target['baseUrl'] !== undefined && httpUrl(target['baseUrl']) === undefined) {
    problems.push('target.baseUrl must be an http(s) URL')
  }
  return problems
}

/** The cause code of a fetch failure (undici wraps the socket error, sometimes in an AggregateError). */
function causeCode(error: unknown): string | undefined {
  const cause = (error as { cause?: unknown }).cause
  if (!isRecord(cause)) return undefined
  if (typeof cause['code'] === 'string') return cause['code']
  const nested = Array.isArray(cause['errors']) ? cause['errors'][0] : undefined
  return isRecord(nested) && typeof nested['code'] === 'string' ? nested['code'] : undefined
}

/** Reads a body up to `MAX_BODY_BYTES`; more is an error, and the rest is not downloaded. */
async function readBody(response: Response): Promise<string> {
  if (response.body === null) return ''
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => {})
      throw new UpstreamError(`the upstream's answer is larger than ${MAX_BODY_BYTES} bytes`)
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * Fetches a document (JSON or YAML) by URL. Not reaching it, or a 5xx, may pass (retryable); a
 * document that is not one does not.
 */
async function fetchDocument(url: string, signal: AbortSignal, egress: EgressCheck): Promise<unknown> {
  let response: Response
  let text: string
  try {
    // Redirects are followed here, each hop shown to the egress gate first.
    let at = new URL(url)
    for (let hop = 0; ; hop++) {
      egress(at, 'GET')
      response = await fetch(at, {
        signal,
        redirect: 'manual',
        headers: { accept: 'application/json, application/yaml;q=0.9, */*;q=0.1' },
      })
      const location = response.headers.get('location')
      if (response.status < 300 || response.status >= 400 || location === null || hop === MAX_REDIRECTS) break
      await response.body?.cancel()
      at = new URL(location, at)
    }
    text = await readBody(response)
  } catch (error) {
    if (error instanceof UpstreamError || isProblemError(error)) throw error
    const why = signal.aborted ? 'timed out' : (causeCode(error) ?? (error as Error).message)
    throw new UpstreamError(`the OpenAPI document could not be fetched from ${url}: ${why}`, {
      retryable: true,
      timedOut: signal.aborted,
    })
  }
  if (!response.ok) {
    throw new UpstreamError(`the OpenAPI document at ${url} answered ${response.status}`, {
      status: response.status,
      excerpt: text.slice(0, 2048),
      retryable: response.status >= 500 || response.status === 429,
      retryAfterMs: refusalRetryAfter(response.status, response.headers.get('retry-after')),
    })
  }
  try {
    return text.trimStart().startsWith('{') ? JSON.parse(text) : parseYaml(text)
  } catch (error) {
    throw new OpenApiDocumentError(
      `the OpenAPI document at ${url} is neither JSON nor YAML: ${(error as Error).message.split('\n')[0]}`,
    )
  }
}

interface Loaded {
  imported: ImportedDocument
  operations: Map<string, Operation>
}

/** The base URL requests go to: the target's, else the document's first server. */
function baseOf(
  target: Record<string, unknown>,
  imported: ImportedDocument,
  documentUrl: string | undefined,
): string {
  if (typeof target['baseUrl'] === 'string') return target['baseUrl']
  const server = imported.servers[0] ?? '/'
  const resolved = httpUrl(documentUrl === undefined ? server : new URL(server, documentUrl).href)
  if (resolved === undefined) {
    throw new OpenApiDocumentError(
      `the document's server ${JSON.stringify(server)} is not an absolute http(s) URL: set target.baseUrl`,
    )
  }
  return resolved.href
}

export class HttpSession implements UpstreamSession {
  readonly #target: Record<string, unknown>
  readonly #secret: string | undefined
  readonly #redact: (text: string) => string
  readonly #base: string
  readonly #loaded: Loaded
  readonly #closing = new AbortController()
  readonly #egress: EgressCheck

  private constructor(
    target: Record<string, unknown>,
    secret: string | undefined,
    loaded: Loaded,
    documentUrl: string | undefined,
    egress: EgressCheck,
  ) {
    this.#egress = egress
    this.#target = target
    this.#secret = secret
    this.#redact = redactor(secret)
    this.#loaded = loaded
    this.#base = baseOf(target, loaded.imported, documentUrl)
  }

  static async open(options: OpenOptions): Promise<HttpSession> {
    const source = options.target['openapi']
    const documentUrl = typeof source === 'string' ? source : undefined
    const loaded = await HttpSession.#load(source, options.signal, options.egress)
    return new HttpSession(options.target, options.secret, loaded, documentUrl, options.egress)
  }

  static async #load(source: unknown, signal: AbortSignal, egress: EgressCheck): Promise<Loaded> {
    const doc = typeof source === 'string' ? await fetchDocument(source, signal, egress) : source
    const imported = await importDocument(doc)
    return { imported, operations: new Map(imported.operations.map((o) => [o.tool.name, o])) }
  }

  /** Operations of the document that were not imported, and why. */
  problems(): readonly ImportProblem[] {
    return this.#loaded.imported.problems
  }

  skipped(): string[] {
    return this.problems().map((p) => `${p.operation}: ${p.message}`)
  }

  /** The operations of the document as read when the session opened (a reconnect reads it again). */
  async tools(): Promise<UpstreamTool[]> {
    return this.#loaded.imported.operations.map((o) => structuredClone(o.tool))
  }

  async call(
    tool: string,
    input: Record<string, unknown>,
    call: UpstreamCall,
  ): Promise<Record<string, unknown>> {
    const operation = this.#loaded.operations.get(tool)
    if (operation === undefined) throw new UpstreamError(`the OpenAPI document has no operation ${tool}`)
    const label = `${operation.method} ${operation.path}`
    let request: ReturnType<typeof buildRequest>
    try {
      const base =
        operation.server === undefined || this.#target['baseUrl'] !== undefined
          ? this.#base
          : new URL(operation.server, this.#base).href
      request = buildRequest(operation, input, base, this.#secret)
      // The call's trace continues upstream (W3C Trace Context): our span is the parent there.
      if (call.trace) request.headers['traceparent'] = formatTraceparent(call.trace)
    } catch (error) {
      if (error instanceof RequestBuildError)
        throw new UpstreamError(`${label}: ${this.#redact(error.message)}`)
      throw error
    }
    this.#egress(new URL(request.url), request.method)
    const timeout = AbortSignal.timeout(Math.max(1, call.timeoutMs))
    const signal = AbortSignal.any([call.signal, timeout, this.#closing.signal])
    const retrySafe = operation.tool.retrySafe === true
    let response: Response
    let text: string
    try {
      response = await fetch(request.url, {
        method: request.method,
        headers: request.headers,
        ...(request.body === undefined ? {} : { body: request.body }),
        redirect: 'manual',
        signal,
      })
      text = await readBody(response)
    } catch (error) {
      throw this.#failure(error, label, signal, timeout, retrySafe)
    }
    if (response.status >= 200 && response.status < 300) return this.#output(operation, response, text, label)
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'))
    const location = response.headers.get('location')
    const retryable =
      response.status === 429 ||
      (response.status === 503 && retryAfterMs !== undefined) ||
      ((response.status >= 500 || response.status === 408) && retrySafe)
    const what =
      response.status >= 300 && response.status < 400 && location !== null
        ? ` (redirect to ${location} not followed)`
        : ''
    throw new UpstreamError(this.#redact(`${label} answered ${response.status}${what}`), {
      status: response.status,
      excerpt: this.#redact(text).slice(0, 2048),
      retryable,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    })
  }

  #output(operation: Operation, response: Response, text: string, label: string): Record<string, unknown> {
    const type = response.headers.get('content-type') ?? ''
    if (text === '') return operation.response === 'wrap' ? { body: null } : {}
    let value: unknown = text
    if (/[/+]json\b/i.test(type)) {
      try {
        value = JSON.parse(text)
      } catch {
        throw new UpstreamError(`${label} answered invalid JSON`, {
          status: response.status,
          excerpt: this.#redact(text).slice(0, 2048),
        })
      }
    }
    if (operation.response === 'wrap') return { body: value }
    return isRecord(value) ? value : { body: value }
  }

  #failure(
    error: unknown,
    label: string,
    signal: AbortSignal,
    timeout: AbortSignal,
    retrySafe: boolean,
  ): UpstreamError {
    if (error instanceof UpstreamError) return error
    if (signal.aborted) {
      const reason: unknown = signal.reason
      const timedOut = timeout.aborted || (reason instanceof Error && reason.name === 'TimeoutError')
      if (timedOut) return new UpstreamError(`${label} timed out`, { timedOut: true })
      if (this.#closing.signal.aborted) return new UpstreamError(`${label}: the connection was closed`)
      return new UpstreamError(`${label} was cancelled`)
    }
    const code = causeCode(error)
    if (code !== undefined && NOT_SENT.has(code)) {
      return new UpstreamError(`${label}: the upstream is unreachable (${code})`, { retryable: true })
    }
    // The request may have been acted on before the connection dropped.
    return new UpstreamError(`${label} failed: ${this.#redact(code ?? (error as Error).message)}`, {
      retryable: retrySafe,
    })
  }

  /** Any HTTP answer from the base URL below 500 proves the service is there. */
  async ping(signal: AbortSignal): Promise<void> {
    this.#egress(new URL(this.#base), 'HEAD')
    let response: Response
    try {
      response = await fetch(this.#base, {
        method: 'HEAD',
        redirect: 'manual',
        signal: AbortSignal.any([signal, this.#closing.signal]),
      })
      await response.body?.cancel()
    } catch (error) {
      if (signal.aborted) throw new UpstreamError('ping timed out', { timedOut: true })
      throw new UpstreamError(
        `the upstream is unreachable (${causeCode(error) ?? (error as Error).message})`,
        { retryable: true },
      )
    }
    if (response.status >= 500)
      throw new UpstreamError(`the upstream answered ${response.status}`, { status: response.status })
  }

  async close(): Promise<void> {
    this.#closing.abort()
  }
}

/**
 * What an `http` session could not import (one line per skipped operation), for the area to show
 * with the link; an empty list for a session of another kind.
 */
export function importProblems(session: UpstreamSession): string[] {
  return session.skipped?.() ?? []
}

export const httpDriver: ConnectorDriver = {
  kind: 'http',
  name: 'OpenAPI service',
  capabilities: ['tools', 'auth:bearer', 'auth:basic', 'auth:api-key', 'retry-after'],
  version: '1.0.0',
  checkTarget,
  async open(options) {
    try {
      return await HttpSession.open(options)
    } catch (error) {
      if (error instanceof OpenApiDocumentError) throw new UpstreamError(error.message, { cause: error })
      throw error
    }
  },
}
