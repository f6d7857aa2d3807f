import { CATALOG, PROBLEM_CODES } from '@arw/protocol'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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
    const valid: Record<string, unknown> = {
      'demo.echo': { text: 'a' },
      'hash.digest': { text: 'a' },
      'time.now': { zone: 'UTC' },
      'text.stats': { text: 'a' },
      'memory.probe': {},
      'introspect.tools': { query: 'a' },
    }
    const mutation = fc.record({
      id: fc.constantFrom(...Object.keys(valid)),
      key: fc.oneof(
        fc.constantFrom('text', 'zone', 'at', 'algorithm', 'encoding', 'base64', 'query', 'all_versions'),
        fc.string(),
      ),
      value: jsonValue,
    })
    await fc.assert(
      fc.asyncProperty(mutation, async ({ id, key, value }) => {
        const input = { ...(valid[id] as object), [key]: value }
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
