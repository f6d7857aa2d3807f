import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { CATALOG, PROBLEM_CODES } from '@arw/protocol'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import {
  checkAnswer,
  type IHttpOperation,
  SPEC_FILE,
  specOperations,
} from '../daemon/src/testing/contract.ts'
import { type TestDaemon, testDaemon } from '../daemon/src/testing/harness.ts'

let d: TestDaemon
beforeAll(async () => {
  d = await testDaemon()
})
afterAll(async () => {
  await d.close()
})

const PROBLEM_TYPES = new Set(CATALOG.map((e) => `urn:arw:problem:${e.name}`))

/**
 * Every non-2xx answer must be a catalog problem, and no bad input may produce a 5xx. The one
 * exception is the MCP endpoint, a JSON-RPC surface: the MCP spec has it answer protocol errors as
 * JSON-RPC error objects (refusals before the protocol, like a missing token, are still problems).
 */
function expectClientProblem(
  res: { statusCode: number; headers: Record<string, unknown>; body: string },
  what: string,
  jsonRpc = false,
): void {
  if (res.statusCode < 400) return
  expect(res.statusCode, `${what} answered ${res.statusCode}: ${res.body}`).toBeLessThan(500)
  if (jsonRpc && /^application\/json/.test(String(res.headers['content-type']))) {
    const message = JSON.parse(res.body)
    expect(message.jsonrpc).toBe('2.0')
    expect(Number.isInteger(message.error?.code)).toBe(true)
    expect(typeof message.error?.message).toBe('string')
    return
  }
  expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/)
  const problem = JSON.parse(res.body)
  expect(PROBLEM_CODES).toContain(problem.code)
  expect(PROBLEM_TYPES.has(problem.type)).toBe(true)
  expect(problem.status).toBe(res.statusCode)
  expect(typeof problem.trace_id).toBe('string')
}

const jsonValue = fc.jsonValue({ maxDepth: 3 })

describe('random and schema-violating input never yields a 5xx', () => {
  it('to every declared tool', async () => {
    const ids = d.app.arw.registry.tools().map((t) => t.id)
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ids),
        fc.oneof(jsonValue, fc.dictionary(fc.string(), jsonValue)),
        async (id, input) => {
          const res = await d.app.inject({
            method: 'POST',
            url: `/tools/${id}:invoke`,
            headers: { ...d.admin, 'content-type': 'application/json' },
            payload: JSON.stringify({ input }),
          })
          expectClientProblem(res, `${id} with ${JSON.stringify(input).slice(0, 200)}`)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('to every tool with inputs that mutate a valid one', async () => {
    // Each tool's declared examples are its valid inputs, and its schema names the keys to mutate:
    // a new tool is fuzzed with no table kept here.
    const tools = d.app.arw.registry.tools()
    expect(tools.filter((t) => t.examples.length === 0).map((t) => t.id)).toEqual([])
    const valid = tools.flatMap((t) => t.examples.map((e) => ({ id: t.id, input: e.input })))
    const keys = [
      ...new Set(tools.flatMap((t) => Object.keys((t.input as { properties: object }).properties))),
    ]
    const mutation = fc.record({
      valid: fc.constantFrom(...valid),
      key: fc.oneof(fc.constantFrom(...keys), fc.string()),
      value: jsonValue,
    })
    await fc.assert(
      fc.asyncProperty(mutation, async ({ valid: { id, input: base }, key, value }) => {
        const input = { ...(base as object), [key]: value }
        const res = await d.app.inject({
          method: 'POST',
          url: `/tools/${id}:invoke`,
          headers: d.admin,
          payload: { input },
        })
        expectClientProblem(res, `${id} with ${JSON.stringify(input).slice(0, 200)}`)
      }),
      { numRuns: 300 },
    )
  })

  it('to every route, with random paths, queries, bodies and content types', async () => {
    const routes = d.app.arw.routeDocs.filter((r) => r.responses[200]?.contentType !== 'text/event-stream')
    const segment = fc.oneof(
      fc.string(),
      fc.constantFrom('demo.echo', 'memory.probe@1.0.0', '..', '%', '%zz', 'a:invoke', 'x@'),
    )
    const request = fc.record({
      route: fc.constantFrom(...routes),
      param: segment,
      query: fc.dictionary(
        fc.constantFrom('replay', 'after', 'prefix', 'task_id', 'trace_id', 'step', 'limit', 'x'),
        fc.string(),
      ),
      body: fc.oneof(
        fc.constant(undefined),
        jsonValue.map((v) => JSON.stringify(v)),
        fc.string(),
      ),
      contentType: fc.constantFrom(
        'application/json',
        'text/plain',
        'application/x-www-form-urlencoded',
        'application/json; charset=utf-8',
        '',
      ),
      auth: fc.boolean(),
    })
    await fc.assert(
      fc.asyncProperty(request, async ({ route, param, query, body, contentType, auth }) => {
        const path = route.path.replace(/\{\w+\}/g, encodeURIComponent(param))
        const qs = new URLSearchParams(query).toString()
        const headers: Record<string, string> = auth ? { ...d.admin } : {}
        if (contentType && body !== undefined) headers['content-type'] = contentType
        const res = await d.app.inject({
          method: route.method,
          url: qs ? `${path}?${qs}` : path,
          headers,
          ...(body !== undefined && route.method !== 'GET' ? { payload: body } : {}),
        })
        expectClientProblem(res, `${route.method} ${path}?${qs}`, route.path === '/mcp')
      }),
      { numRuns: 400 },
    )
  })

  it('to the event stream with invalid resume parameters', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('replay', 'after'),
        fc.oneof(
          fc.constantFrom('-1', 'abc', '1.5', '1e309', '', ' 5', '5 ', '0x10', '1e2', '+3'),
          fc.string(),
        ),
        async (name, value) => {
          if (/^\d+$/.test(value) || value === '') return // valid values open a stream
          const res = await d.app.inject({
            url: `/admin/events?${name}=${encodeURIComponent(value)}`,
            headers: d.admin,
          })
          expect(res.statusCode).toBe(400)
          expectClientProblem(res, `events ${name}=${value}`)
        },
      ),
      { numRuns: 100 },
    )
  })
})

/** One answer as an HTTP client sees it, checked against spec/openapi.yaml like the in-process hook. */
async function fetchChecked(ops: readonly IHttpOperation[], method: string, url: string, init: RequestInit) {
  const res = await fetch(url, { ...init, method, signal: AbortSignal.timeout(10_000) })
  const body = await res.text()
  const headers = Object.fromEntries(res.headers)
  const path = new URL(url).pathname
  const violations = checkAnswer(ops, { method, path, status: res.status, headers, body })
  return { statusCode: res.status, headers, body, violations }
}

let listening: Promise<string> | undefined
const baseUrl = () => {
  listening ??= d.listen()
  return listening
}

describe('black box: every operation of spec/openapi.yaml, over HTTP', () => {
  const spec = parse(readFileSync(SPEC_FILE, 'utf8')) as {
    paths: Record<string, Record<string, { responses: Record<string, { content?: object }> }>>
  }
  // Streams never end by themselves; their status, type and headers are checked by the SSE tests.
  const operations = Object.entries(spec.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([, op]) => Object.keys(op.responses['200']?.content ?? {}).join() !== 'text/event-stream')
      .map(([method, _]) => ({ path, method: method.toUpperCase() })),
  )

  it('covers every operation', () => {
    expect(operations.length).toBeGreaterThan(15)
    expect(operations.map((o) => `${o.method} ${o.path}`)).toContain('POST /tools/hash.digest@1.0.0:invoke')
  })

  it('gets only documented answers, every 4xx a catalog problem, to random input', async () => {
    const base = await baseUrl()
    const ops = await specOperations()
    const request = fc.record({
      op: fc.constantFrom(...operations),
      param: fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('demo.echo', 'app.js', 'x@1.0.0', '%zz')),
      query: fc.dictionary(
        fc.constantFrom('task_id', 'trace_id', 'replay', 'all_versions', 'x'),
        fc.string(),
      ),
      body: fc.oneof(
        fc.constant(undefined),
        fc.constant(''),
        fc.record({ input: jsonValue }).map((v) => JSON.stringify(v)),
        jsonValue.map((v) => JSON.stringify(v)),
      ),
      auth: fc.boolean(),
    })
    await fc.assert(
      fc.asyncProperty(request, async ({ op, param, query, body, auth }) => {
        const path = op.path.replace(/\{\w+\}/g, encodeURIComponent(param) || 'x')
        const qs = new URLSearchParams(query).toString()
        const headers: Record<string, string> = auth ? { ...d.admin } : {}
        if (body !== undefined) headers['content-type'] = 'application/json'
        const res = await fetchChecked(ops, op.method, `${base}${path}${qs ? `?${qs}` : ''}`, {
          headers,
          ...(body !== undefined && op.method !== 'GET' ? { body } : {}),
        })
        expect(res.violations, `${op.method} ${path}?${qs}`).toEqual([])
        expectClientProblem(res, `${op.method} ${path}?${qs}`, op.path === '/mcp')
      }),
      { numRuns: 250, interruptAfterTimeLimit: 20_000 },
    )
  })

  /** Raw HTTP/1.1: what a request the router or Node's parser refuses gets back. */
  function raw(base: string, head: string): Promise<string> {
    const { port } = new URL(base)
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1')
      let out = ''
      socket.setTimeout(10_000, () => socket.destroy(new Error('no answer')))
      socket.on('data', (c) => {
        out += c
      })
      socket.on('end', () => resolve(out))
      socket.on('close', () => resolve(out))
      socket.on('error', reject)
      socket.write(head)
    })
  }

  it('answers a path segment over the router limit with a documented 414 problem echoing little', async () => {
    const base = await baseUrl()
    const ops = await specOperations()
    const path = `/tools/${'a'.repeat(400)}:invoke`
    const res = await fetchChecked(ops, 'POST', `${base}${path}`, { headers: d.admin })
    expect(res.statusCode).toBe(414)
    expect(res.violations).toEqual([])
    expectClientProblem(res, 'long segment')
    expect(JSON.parse(res.body)).toMatchObject({
      type: 'urn:arw:problem:uri_too_long',
      code: 'payload_too_large',
    })
    expect(res.headers['traceparent']).toMatch(/^00-/)
    expect(res.body.length).toBeLessThan(1000)
  })

  it('answers headers over Node limit with a 431 problem and Connection: close, then closes', async () => {
    const base = await baseUrl()
    const answer = await raw(base, `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
    const [head, body] = answer.split('\r\n\r\n') as [string, string]
    expect(head).toMatch(/^HTTP\/1\.1 431 /)
    expect(head).toMatch(/\r\nConnection: close/i)
    expect(head).toMatch(/\r\nContent-Type: application\/problem\+json/i)
    const problem = JSON.parse(body)
    expect(problem).toMatchObject({ status: 431, type: 'urn:arw:problem:headers_too_large', instance: '' })
    expect(body.length).toBeLessThan(1000)
  })
})
