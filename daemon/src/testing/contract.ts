import { appendFileSync, existsSync } from 'node:fs'
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Registry } from '@arw/registry'
import { type HttpRouteDoc, specFiles } from '@arw/spec'
import type { FastifyInstance } from 'fastify'
import { parse } from 'yaml'

// Prism's router, spec loader and validator are CommonJS modules reached by their paths (its
// index would also load the mock server); require() gives the same exports under every loader.
const require = createRequire(import.meta.url)
const route = (
  require('@stoplight/prism-http/dist/router/index.js') as typeof import('@stoplight/prism-http/dist/router/index.js')
).default
const { getHttpOperationsFromSpec } =
  require('@stoplight/prism-http/dist/utils/operations.js') as typeof import('@stoplight/prism-http/dist/utils/operations.js')
const { validateOutput } =
  require('@stoplight/prism-http/dist/validator/index.js') as typeof import('@stoplight/prism-http/dist/validator/index.js')
export type IHttpOperation = Awaited<ReturnType<typeof getHttpOperationsFromSpec>>[number]

/**
 * The response contract check of the test suite: every answer a daemon gives is checked against
 * the committed spec/openapi.yaml by Stoplight Prism's response validator (the validator of its
 * validating proxy: documented status, media type, body schema under OpenAPI 3.1 / JSON Schema
 * 2020-12, declared header schemas), plus two checks Prism is lenient about: the media type must
 * be one the response declares exactly (Prism lets `application/json` stand for
 * `application/problem+json`), and every header the daemon sends, bar the transport ones, must be
 * declared on that response.
 *
 * Turned on by ARW_CONTRACT_CHECK=<file> (the vitest setup file sets it for every test file, and
 * daemons in child processes inherit it): each violation is appended to the file as one JSON line,
 * and the setup file fails the test that produced it.
 */
export const CONTRACT_CHECK_ENV = 'ARW_CONTRACT_CHECK'

/**
 * The checkout's spec/openapi.yaml, found upwards from this module: it runs from daemon/src and,
 * in the compiled daemon that tests start through daemon/bin/arw.js, from daemon/dist.
 */
export const SPEC_FILE = (() => {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const file = join(dir, 'spec', 'openapi.yaml')
    if (existsSync(file)) return file
    const up = dirname(dir)
    if (up === dir) throw new Error('spec/openapi.yaml not found above the contract check')
    dir = up
  }
})()

/** Headers of HTTP itself, which no operation documents. */
const TRANSPORT_HEADERS = new Set([
  'content-type',
  'content-length',
  'date',
  'connection',
  'keep-alive',
  'transfer-encoding',
])

/** Bodies longer than this are checked for status, type and headers only. */
const MAX_CHECKED_BODY = 4 * 1024 * 1024

export interface ContractViolation {
  method: string
  path: string
  status: number
  problems: string[]
}

export interface Answer {
  method: string
  /** Request path, without the query. */
  path: string
  status: number
  headers: Record<string, string>
  /** The body as sent; undefined for a stream (only status, type and headers are checked). */
  body?: string
}

let operations: Promise<IHttpOperation[]> | undefined
const ownOperations = new WeakMap<object, Promise<IHttpOperation[]>>()

/** The operations of spec/openapi.yaml as Prism reads them (loaded once per process). */
export function specOperations(): Promise<IHttpOperation[]> {
  operations ??= getHttpOperationsFromSpec(SPEC_FILE)
  return operations
}

function mediaTypeOf(value: string | undefined): string {
  return (value ?? '').split(';')[0]!.trim().toLowerCase()
}

function parsedBody(body: string, mediaType: string): unknown {
  if (mediaType === 'application/json' || mediaType.endsWith('+json')) {
    try {
      return JSON.parse(body)
    } catch {
      return body
    }
  }
  return body
}

/** What is wrong with one answer, per spec/openapi.yaml (empty when it is documented). */
export function checkAnswer(ops: readonly IHttpOperation[], answer: Answer): string[] {
  const mediaType = mediaTypeOf(answer.headers['content-type'])
  let path = answer.path
  try {
    path = decodeURI(path)
  } catch {
    // A malformed escape stays as sent; the router answers it like any unknown path.
  }
  const matched = route({
    resources: [...ops],
    input: { method: answer.method.toLowerCase() as 'get', url: { path } },
  })
  if (matched._tag === 'Left') {
    // No operation: the catch-all every unknown path and method answers (see info.description).
    const body = answer.body === undefined ? undefined : parsedBody(answer.body, mediaType)
    const code = (body as { code?: unknown } | undefined)?.code
    if (answer.status === 404 && mediaType === 'application/problem+json' && code === 'not_found') return []
    return [`no operation documents ${answer.method} ${answer.path} (${matched.left.message})`]
  }
  const operation = matched.right
  const problems: string[] = []
  const response =
    operation.responses.find((r) => r.code === String(answer.status)) ??
    operation.responses.find((r) => r.code.toLowerCase() === `${String(answer.status)[0]}xx`) ??
    operation.responses.find((r) => r.code === 'default')
  // Prism takes `application/problem+json` for `application/json` (same subtype after the +):
  // where the answer's exact type is declared, it sees only that one, so the right schema is used.
  const exactly = operation.responses.map((r) =>
    r.contents?.some((c) => mediaTypeOf(c.mediaType) === mediaType)
      ? { ...r, contents: r.contents.filter((c) => mediaTypeOf(c.mediaType) === mediaType) }
      : r,
  )
  const result = validateOutput({
    resource: { ...operation, responses: exactly as typeof operation.responses },
    element: {
      statusCode: answer.status,
      headers: answer.headers,
      ...(answer.body !== undefined ? { body: parsedBody(answer.body, mediaType) } : {}),
    },
  })
  if (result._tag === 'Left') {
    // Severity 0 is an error, 1 a warning (Prism's word for a non-2xx status not documented).
    for (const d of result.left) {
      // A stream's body is not seen: only its status, type and headers are checked.
      if (answer.body === undefined && d.path?.[0] === 'body') continue
      if (d.severity <= 1) problems.push(`${d.path ? `${d.path.join('.')}: ` : ''}${d.message}`)
    }
  }
  if (response) {
    const declared = (response.contents ?? []).map((c) => mediaTypeOf(c.mediaType))
    if (declared.length > 0 && !declared.includes(mediaType))
      problems.push(`content type "${mediaType}" is not one of the declared ${declared.join(', ')}`)
    if (declared.length === 0 && (answer.headers['content-type'] || (answer.body ?? '').length > 0))
      problems.push(`a body or content type ("${mediaType}") where the response declares no content`)
    const headers = new Set((response.headers ?? []).map((h) => h.name.toLowerCase()))
    for (const name of Object.keys(answer.headers)) {
      if (!TRANSPORT_HEADERS.has(name) && !headers.has(name))
        problems.push(`header "${name}" is not declared on this response`)
    }
  }
  return [...new Set(problems)]
}

function headerRecord(headers: OutgoingHttpHeaders | IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value)
  }
  return out
}

/**
 * Watches one response at the Node level, so answers Fastify sends and answers a route writes
 * itself (hijacked SSE and MCP streams) are seen alike: status and headers at writeHead, the body
 * as written, the check once it has finished (a stream: at writeHead).
 */
function watch(res: ServerResponse, done: (answer: Omit<Answer, 'method' | 'path'>) => void): void {
  const chunks: Buffer[] = []
  let size = 0
  let head: { status: number; headers: Record<string, string> } | undefined
  let streaming = false
  const writeHead = res.writeHead
  res.writeHead = function (this: ServerResponse, status: number, ...rest: unknown[]) {
    const headersArg = rest.find((r) => typeof r === 'object' && r !== null && !Array.isArray(r)) as
      | OutgoingHttpHeaders
      | undefined
    const result = (writeHead as (...a: unknown[]) => ServerResponse).call(this, status, ...rest)
    const headers = { ...headerRecord(this.getHeaders()), ...headerRecord(headersArg ?? {}) }
    head = { status, headers }
    if (mediaTypeOf(headers['content-type']) === 'text/event-stream') {
      streaming = true
      done(head)
    }
    return result
  } as typeof res.writeHead
  // Some responses' end() writes its chunk through write() (light-my-request's does): count it once.
  let ending = false
  const collect = (chunk: unknown) => {
    if (streaming || ending || chunk === undefined || chunk === null || typeof chunk === 'function') return
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string)
    size += buffer.length
    if (size <= MAX_CHECKED_BODY) chunks.push(buffer)
  }
  const write = res.write
  res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    collect(chunk)
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest)
  } as typeof res.write
  const end = res.end
  res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
    collect(chunk)
    ending = true
    try {
      return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest)
    } finally {
      ending = false
    }
  } as typeof res.end
  res.once('finish', () => {
    if (streaming) return
    const status = head?.status ?? res.statusCode
    const headers = head?.headers ?? headerRecord(res.getHeaders())
    done({
      status,
      headers,
      ...(size <= MAX_CHECKED_BODY ? { body: Buffer.concat(chunks).toString('utf8') } : {}),
    })
  })
}

/**
 * The document of a daemon's own declarations, for the routes a test adds (an area of its own):
 * spec/openapi.yaml has them not, and docgen --check keeps it equal to the product's declarations.
 */
function declaredOperations(daemon: { registry: Registry; routes: readonly HttpRouteDoc[] }) {
  let ops = ownOperations.get(daemon)
  if (!ops) {
    const text = specFiles({ registry: daemon.registry, routes: daemon.routes, version: '0.0.0' }).get(
      'openapi.yaml',
    )!
    ops = getHttpOperationsFromSpec(parse(text) as object)
    ownOperations.set(daemon, ops)
  }
  return ops
}

/**
 * Installs the check on a daemon being built (before its routes, so it sees every answer):
 * violations are appended to `file` as JSON lines. The spec is read at the first request, so a
 * daemon that never answers HTTP (`arw mcp` on stdio) never loads it.
 */
export function installContractCheck(
  app: FastifyInstance,
  file: string,
  daemon: { registry: Registry; routes: readonly HttpRouteDoc[] },
): void {
  app.addHook('onRequest', async (request, reply) => {
    const method = request.method
    const path = request.url.split('?')[0]!
    const ops = await specOperations()
    watch(reply.raw, (answer) => {
      void (async () => {
        let problems = checkAnswer(ops, { method, path, ...answer })
        // Only a route the committed spec does not know is looked up in the daemon's own declarations.
        if (problems.some((p) => p.startsWith('no operation documents')))
          problems = checkAnswer(await declaredOperations(daemon), { method, path, ...answer })
        if (problems.length === 0) return
        const violation: ContractViolation = { method, path, status: answer.status, problems }
        appendFileSync(file, `${JSON.stringify(violation)}\n`)
      })()
    })
  })
}
