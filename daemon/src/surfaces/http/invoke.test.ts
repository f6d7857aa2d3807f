import { ERRORS, ProblemError } from '@arw/protocol'
import { defineTool } from '@arw/registry'
import Type from 'typebox'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { type TestDaemon, testDaemon } from '../../testing/harness.ts'

let slowStarted = 0
let slowAborted = 0
const extraTools = [
  defineTool({
    name: 'test.slow',
    version: '1.0.0',
    title: 'Slow',
    description: 'Waits past its timeout unless aborted.',
    input: Type.Object({ ms: Type.Integer() }),
    output: Type.Object({}),
    timeoutMs: 100,
    handler: ({ ms }, ctx) =>
      new Promise((resolve) => {
        slowStarted++
        const timer = setTimeout(() => resolve({}), ms)
        ctx.signal.addEventListener('abort', () => {
          slowAborted++
          clearTimeout(timer)
        })
      }),
  }),
  defineTool({
    name: 'test.liar',
    version: '1.0.0',
    title: 'Liar',
    description: 'Returns output that violates its schema.',
    input: Type.Object({}),
    output: Type.Object({ n: Type.Integer() }),
    handler: () => ({ n: 'not a number' }) as never,
  }),
  defineTool({
    name: 'test.counter',
    version: '1.0.0',
    title: 'Counter',
    description: 'Counts its runs.',
    input: Type.Object({ by: Type.Integer({ default: 1 }) }),
    output: Type.Object({ runs: Type.Integer() }),
    handler: (() => {
      let runs = 0
      return async ({ by }: { by: number }) => {
        await new Promise((r) => setTimeout(r, 20))
        runs += by
        return { runs }
      }
    })(),
  }),
  defineTool({
    name: 'test.crash',
    version: '1.0.0',
    title: 'Crash',
    description: 'Throws a plain error with a secret in its message.',
    input: Type.Object({}),
    output: Type.Object({}),
    handler: () => {
      throw new Error('db password is hunter2')
    },
  }),
  defineTool({
    name: 'test.conflict',
    version: '1.0.0',
    title: 'Conflict',
    description: 'Raises a declared problem.',
    input: Type.Object({}),
    output: Type.Object({}),
    errors: ['conflict'],
    handler: () => {
      throw new ProblemError(ERRORS.conflict, { reason: 'the thing already exists' })
    },
  }),
  defineTool({
    name: 'test.old',
    version: '1.0.0',
    title: 'Old',
    description: 'A deprecated version.',
    input: Type.Object({}),
    output: Type.Object({}),
    stability: 'deprecated',
    deprecation: {
      since: '2026-01-01T00:00:00Z',
      sunset: '2027-01-01T00:00:00Z',
      replacement: 'test.old@2.0.0',
      link: 'https://example.invalid/migrate',
    },
    handler: () => ({}),
  }),
  defineTool({
    name: 'test.old',
    version: '2.0.0',
    title: 'New',
    description: 'The replacement.',
    input: Type.Object({}),
    output: Type.Object({ v: Type.Literal(2) }),
    handler: () => ({ v: 2 as const }),
  }),
]

let d: TestDaemon
beforeAll(async () => {
  d = await testDaemon({ extraTools })
})
afterAll(async () => {
  await d.close()
})

function invoke(id: string, body: unknown, headers: Record<string, string> = {}) {
  return d.app.inject({
    method: 'POST',
    url: `/tools/${id}:invoke`,
    headers: { ...d.admin, 'content-type': 'application/json', ...headers },
    payload: JSON.stringify(body),
  })
}

describe('POST /tools/{id}:invoke', () => {
  it('runs the newest stable version for a bare id and answers output, tool, trace_id, duration_ms', async () => {
    const res = await invoke('demo.echo', { input: { text: 'hi' } })
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body).toEqual({
      output: { text: 'hi' },
      tool: 'demo.echo@1.0.0',
      trace_id: expect.stringMatching(/^[0-9a-f]{32}$/),
      duration_ms: expect.any(Number),
    })
    expect(res.headers.traceparent).toMatch(new RegExp(`^00-${body.trace_id}-[0-9a-f]{16}-01$`))
  })

  it('takes a left-out body, or an empty JSON one (what generated clients send), as input {}', async () => {
    for (const headers of [{}, { 'content-type': 'application/json' }]) {
      const res = await d.app.inject({
        method: 'POST',
        url: '/tools/memory.probe:invoke',
        headers: { ...d.admin, ...headers },
      })
      expect(res.statusCode, res.body).toBe(200)
      expect(res.json().tool).toBe('memory.probe@1.0.0')
    }
    // A tool whose input requires something still says what is missing.
    const res = await d.app.inject({ method: 'POST', url: '/tools/demo.echo:invoke', headers: d.admin })
    expect(res.statusCode).toBe(400)
    expect(res.json().errors).toEqual([expect.objectContaining({ pointer: '/input/text' })])
  })

  it('runs exactly the version asked for', async () => {
    const res = await invoke('test.old@2.0.0', { input: {} })
    expect(res.json()).toMatchObject({ output: { v: 2 }, tool: 'test.old@2.0.0' })
    expect(res.headers.deprecation).toBeUndefined()
  })

  it('continues the caller trace from traceparent', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const res = await invoke(
      'demo.echo',
      { input: { text: 'x' } },
      { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    )
    expect(res.json().trace_id).toBe(traceId)
    expect(res.headers.traceparent).toMatch(new RegExp(`^00-${traceId}-(?!00f067aa0ba902b7)[0-9a-f]{16}-01$`))
  })

  it('records the call in the journal with the trace, principal and decision, durably before answering', async () => {
    const res = await invoke('demo.echo', { input: { text: 'recorded' }, task_id: 'task-42', step: 's1' })
    const { trace_id } = res.json()
    const events = await d.app.arw.journal.byTrace(trace_id)
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({
      kind: 'tool.ran',
      trace_id,
      task_id: 'task-42',
      actor: { kind: 'admin', id: 'admin' },
      payload: {
        tool: 'demo.echo@1.0.0',
        outcome: 'ok',
        surface: 'http',
        step: 's1',
        decision: { decision: 'allow' },
        input: { text: 'recorded' },
        output: { text: 'recorded' },
      },
    })
  })

  it('answers a validation problem listing every failing field by JSON pointer', async () => {
    const res = await invoke('demo.echo', { input: { text: 5, extra: true } })
    expect(res.statusCode).toBe(400)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    const problem = res.json()
    expect(problem).toMatchObject({
      type: 'urn:arw:problem:validation_failed',
      code: 'validation_failed',
      status: 400,
      // The request path the caller used (a bare name), not the resolved version's.
      instance: '/tools/demo.echo:invoke',
      trace_id: expect.stringMatching(/^[0-9a-f]{32}$/),
    })
    expect(problem.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ pointer: '/input/text', keyword: 'type' }),
        expect.objectContaining({ pointer: '/input/extra', keyword: 'additionalProperties' }),
      ]),
    )
  })

  it('rejects unknown body fields in the envelope', async () => {
    const res = await invoke('demo.echo', { input: { text: 'a' }, inptu: 1 })
    expect(res.statusCode).toBe(400)
    expect(res.json().errors).toEqual([expect.objectContaining({ pointer: '/inptu' })])
  })

  it('answers distinct not_found problems for an unknown tool and an unknown version, and 400 for a bad id', async () => {
    const unknown = await invoke('no.such.tool', { input: {} })
    expect(unknown.statusCode).toBe(404)
    expect(unknown.json()).toMatchObject({ code: 'not_found', type: 'urn:arw:problem:tool_not_found' })
    const version = await invoke('demo.echo@9.0.0', { input: {} })
    expect(version.statusCode).toBe(404)
    expect(version.json()).toMatchObject({
      code: 'not_found',
      type: 'urn:arw:problem:tool_version_not_found',
      detail: expect.stringContaining('1.0.0'),
    })
    const bad = await invoke('Demo Echo', { input: {} })
    expect(bad.statusCode).toBe(400)
    expect(bad.json()).toMatchObject({ code: 'validation_failed', type: 'urn:arw:problem:invalid_tool_id' })
  })

  it('cuts a handler off at its timeout and aborts its signal', async () => {
    const before = slowAborted
    const res = await invoke('test.slow', { input: { ms: 5000 } })
    expect(res.statusCode).toBe(504)
    expect(res.json()).toMatchObject({ code: 'timeout' })
    expect(slowAborted).toBe(before + 1)
    expect(slowStarted).toBeGreaterThan(0)
  })

  it('withholds output that fails its schema as internal_error, and records it', async () => {
    const res = await invoke('test.liar', { input: {} })
    expect(res.statusCode).toBe(500)
    const problem = res.json()
    expect(problem).toMatchObject({ code: 'internal_error', type: 'urn:arw:problem:output_invalid' })
    expect(res.body).not.toContain('not a number')
    const [event] = await d.app.arw.journal.byTrace(problem.trace_id)
    expect(event?.payload).toMatchObject({ outcome: 'error', code: 'internal_error', status: 500 })
  })

  it('answers 503 when the journal cannot commit the record of a call that ran, and keeps no hole', async () => {
    const { journal, store } = d.app.arw
    const before = journal.head
    // The store refuses the next transaction once (as on a full disk); its error text stays in the log.
    const refused = vi
      .spyOn(store.backend(), 'commit')
      .mockImplementationOnce(() => Promise.reject(new Error('MDB_MAP_FULL at /secret/path')))
    try {
      const res = await invoke('demo.echo', { input: { text: 'lost?' } })
      expect(res.statusCode).toBe(503)
      const problem = res.json()
      expect(problem).toMatchObject({ code: 'unavailable', status: 503 })
      expect(res.body).not.toContain('MDB_MAP_FULL')
      // The failure record takes the id the refused commit gave back, and says the call ran.
      const [event] = await journal.byTrace(problem.trace_id)
      expect(event?.id).toBe(before + 1)
      expect(event?.payload).toMatchObject({
        outcome: 'error',
        code: 'unavailable',
        status: 503,
        error: 'JournalFailure',
        input: { text: 'lost?' },
      })
    } finally {
      refused.mockRestore()
    }
    const ok = await invoke('demo.echo', { input: { text: 'kept' } })
    expect(ok.statusCode).toBe(200)
    expect((await journal.read(before, 10)).map((e) => e.id)).toEqual([before + 1, before + 2])
  })

  it('reports the journal degraded on /healthz while its commits fail, and ok once one succeeds', async () => {
    const health = async () => (await d.app.inject({ url: '/healthz' })).json()
    const failuresBefore = (await health()).journal_commit_failures as number
    // The store refuses both the call's record and its failure record.
    const refused = vi
      .spyOn(d.app.arw.store.backend(), 'commit')
      .mockImplementation(() => Promise.reject(new Error('MDB_MAP_FULL')))
    try {
      expect((await invoke('demo.echo', { input: { text: 'x' } })).statusCode).toBe(503)
      const degraded = await health()
      expect(degraded).toMatchObject({ status: 'degraded', journal_commit_failures: failuresBefore + 2 })
      expect(Date.parse(degraded.journal_last_failure_at)).toBeGreaterThan(Date.now() - 60_000)
      expect(JSON.stringify(degraded)).not.toContain('MDB_MAP_FULL')
    } finally {
      refused.mockRestore()
    }
    expect((await invoke('demo.echo', { input: { text: 'y' } })).statusCode).toBe(200)
    expect(await health()).toMatchObject({ status: 'ok', journal_commit_failures: failuresBefore + 2 })
  })

  it('never leaks a thrown error message', async () => {
    const res = await invoke('test.crash', { input: {} })
    expect(res.statusCode).toBe(500)
    expect(res.body).not.toContain('hunter2')
    const [event] = await d.app.arw.journal.byTrace(res.json().trace_id)
    expect(JSON.stringify(event)).not.toContain('hunter2')
    expect(event?.payload).toMatchObject({ error: 'Error' })
  })

  it("passes a handler's declared problem through", async () => {
    const res = await invoke('test.conflict', { input: {} })
    expect(res.statusCode).toBe(409)
    expect(res.json()).toMatchObject({ code: 'conflict', detail: 'the thing already exists' })
  })

  it('marks a deprecated version with Deprecation, Sunset and Link headers', async () => {
    const res = await invoke('test.old@1.0.0', { input: {} })
    expect(res.statusCode).toBe(200)
    expect(res.headers.deprecation).toBe(`@${Date.parse('2026-01-01T00:00:00Z') / 1000}`)
    expect(res.headers.sunset).toBe('Fri, 01 Jan 2027 00:00:00 GMT')
    expect(res.headers.link).toContain('<https://example.invalid/migrate>; rel="deprecation"')
    expect(res.headers.link).toContain('</tools/test.old@2.0.0:invoke>; rel="successor-version"')
  })

  it('applies schema defaults before the handler runs', async () => {
    const res = await invoke('test.counter', { input: {} }, { 'idempotency-key': 'defaults-1' })
    expect(res.statusCode).toBe(200)
    expect(res.json().output.runs).toBeGreaterThan(0)
  })
})

describe('Idempotency-Key', () => {
  it('returns the first answer to a retry instead of running twice', async () => {
    const first = await invoke('test.counter', { input: { by: 1 } }, { 'idempotency-key': 'k-1' })
    const second = await invoke('test.counter', { input: { by: 1 } }, { 'idempotency-key': 'k-1' })
    expect(second.statusCode).toBe(200)
    expect(second.json()).toEqual(first.json())
    expect(second.headers['idempotent-replayed']).toBe('true')
    const third = await invoke('test.counter', { input: { by: 1 } })
    expect(third.json().output.runs).toBe(first.json().output.runs + 1)
  })

  it('answers a replay in the trace of the retry, its stored body naming the trace of the call that ran', async () => {
    const first = await invoke('test.counter', { input: { by: 1 } }, { 'idempotency-key': 'k-trace' })
    const retryTrace = '4bf92f3577b34da6a3ce929d0e0e4736'
    const second = await invoke(
      'test.counter',
      { input: { by: 1 } },
      { 'idempotency-key': 'k-trace', traceparent: `00-${retryTrace}-00f067aa0ba902b7-01` },
    )
    expect(second.headers['idempotent-replayed']).toBe('true')
    // traceparent continues the retry's own trace; the body is the stored answer, trace_id included,
    expect(second.headers.traceparent).toMatch(new RegExp(`^00-${retryTrace}-`))
    expect(second.json().trace_id).toBe(first.json().trace_id)
    // which is where the journal holds the call.
    const probe = await d.app.inject({
      url: `/admin/probe?trace_id=${first.json().trace_id}`,
      headers: d.admin,
    })
    expect(probe.json().count).toBeGreaterThan(0)
  })

  it('forgets an answer once ARW_IDEMPOTENCY_TTL_S is over: a retry runs again, and the store deletes it', async () => {
    const first = await invoke('test.counter', { input: { by: 1 } }, { 'idempotency-key': 'k-ttl' })
    const later = Date.now() + d.config.idempotencyTtlMs + 1000
    vi.useFakeTimers({ toFake: ['Date'], now: later })
    try {
      const retry = await invoke('test.counter', { input: { by: 1 } }, { 'idempotency-key': 'k-ttl' })
      expect(retry.headers['idempotent-replayed']).toBeUndefined()
      expect(retry.json().output.runs).toBe(first.json().output.runs + 1)
      // The retry's answer replaces it, with a TTL of its own.
      const again = await invoke('test.counter', { input: { by: 1 } }, { 'idempotency-key': 'k-ttl' })
      expect(again.headers['idempotent-replayed']).toBe('true')
      expect(again.json()).toEqual(retry.json())
      // Once that TTL is over too, the sweep deletes it from the store.
      vi.setSystemTime(later + d.config.idempotencyTtlMs + 1000)
      expect(await d.app.arw.store.sweep()).toBeGreaterThan(0)
      const idempotency = d.app.arw.store.collection({ area: 'pipeline', name: 'idempotency' })
      expect(await idempotency.list()).toEqual({ items: [], next_cursor: null })
    } finally {
      vi.useRealTimers()
    }
  })

  it('runs concurrent duplicates once', async () => {
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        invoke('test.counter', { input: { by: 100 } }, { 'idempotency-key': 'k-concurrent' }),
      ),
    )
    const runs = new Set(answers.map((a) => a.json().output.runs))
    expect(runs.size).toBe(1)
    expect(answers.filter((a) => a.headers['idempotent-replayed'] === 'true')).toHaveLength(4)
  })

  it('replays a problem the handler raised, but not a refusal before it ran or a server fault', async () => {
    const raised = await invoke('test.conflict', { input: {} }, { 'idempotency-key': 'k-raised' })
    expect(raised.statusCode).toBe(409)
    const again = await invoke('test.conflict', { input: {} }, { 'idempotency-key': 'k-raised' })
    expect(again.statusCode).toBe(409)
    expect(again.headers['idempotent-replayed']).toBe('true')
    expect(again.json()).toEqual(raised.json())
    for (const [tool, input, status] of [
      ['test.counter', { by: 'x' }, 400],
      ['test.crash', {}, 500],
    ] as const) {
      for (let attempt = 0; attempt < 2; attempt++) {
        const res = await invoke(tool, { input }, { 'idempotency-key': `k-free-${tool}` })
        expect(res.statusCode).toBe(status)
        expect(res.headers['idempotent-replayed']).toBeUndefined()
      }
    }
  })

  it('refuses the same key with a different request as a conflict', async () => {
    await invoke('test.counter', { input: { by: 1 } }, { 'idempotency-key': 'k-2' })
    const res = await invoke('test.counter', { input: { by: 2 } }, { 'idempotency-key': 'k-2' })
    expect(res.statusCode).toBe(409)
    expect(res.json()).toMatchObject({ code: 'conflict', type: 'urn:arw:problem:idempotency_conflict' })
  })

  it('rejects a malformed key', async () => {
    const res = await invoke('demo.echo', { input: { text: 'a' } }, { 'idempotency-key': 'x'.repeat(300) })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({
      code: 'validation_failed',
      type: 'urn:arw:problem:idempotency_key_invalid',
    })
  })
})

describe('bad requests get clear problems, never a 5xx', () => {
  it('malformed JSON', async () => {
    const res = await d.app.inject({
      method: 'POST',
      url: '/tools/demo.echo:invoke',
      headers: { ...d.admin, 'content-type': 'application/json' },
      payload: '{"input": {',
    })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ code: 'validation_failed', type: 'urn:arw:problem:malformed_json' })
  })

  it('wrong content type', async () => {
    const res = await d.app.inject({
      method: 'POST',
      url: '/tools/demo.echo:invoke',
      headers: { ...d.admin, 'content-type': 'text/plain' },
      payload: 'hello',
    })
    expect(res.statusCode).toBe(415)
    expect(res.json()).toMatchObject({
      code: 'validation_failed',
      type: 'urn:arw:problem:unsupported_media_type',
    })
  })

  it('oversized body', async () => {
    const res = await invoke('demo.echo', { input: { text: 'x'.repeat(d.config.bodyLimit + 10) } })
    expect(res.statusCode).toBe(413)
    expect(res.json()).toMatchObject({ code: 'payload_too_large' })
  })

  it('unknown route', async () => {
    const res = await d.app.inject({ method: 'GET', url: '/nope?x=1' })
    expect(res.statusCode).toBe(404)
    expect(res.json()).toMatchObject({
      code: 'not_found',
      type: 'urn:arw:problem:route_not_found',
      instance: '/nope',
    })
  })

  it('a /tools/ path without :invoke', async () => {
    const res = await d.app.inject({ method: 'POST', url: '/tools/demo.echo', headers: d.admin, payload: {} })
    expect(res.statusCode).toBe(404)
    expect(res.json().code).toBe('not_found')
  })
})
