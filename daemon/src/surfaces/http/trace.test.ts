import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type TestDaemon, testDaemon } from '../../testing/harness.ts'

let d: TestDaemon
beforeAll(async () => {
  d = await testDaemon()
})
afterAll(async () => {
  await d.close()
})

const TRACEPARENT = /^00-([0-9a-f]{32})-[0-9a-f]{16}-01$/

/** The trace id a response announces in its traceparent header. */
function traceOf(headers: Record<string, unknown>): string {
  const match = TRACEPARENT.exec(String(headers['traceparent']))
  expect(match, `traceparent ${String(headers['traceparent'])}`).not.toBeNull()
  return match![1]!
}

describe('every answer carries its trace context', () => {
  it('on an open route', async () => {
    const res = await d.app.inject({ url: '/healthz' })
    expect(res.statusCode).toBe(200)
    traceOf(res.headers)
  })

  it('on a refused admin request, the problem naming the same trace', async () => {
    const res = await d.app.inject({ url: '/admin/introspect/tools' })
    expect(res.statusCode).toBe(401)
    expect(res.json().trace_id).toBe(traceOf(res.headers))
  })

  it('on an unknown route, continuing the caller trace', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const res = await d.app.inject({
      url: '/no/such/route',
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    })
    expect(res.statusCode).toBe(404)
    expect(traceOf(res.headers)).toBe(traceId)
    expect(res.json().trace_id).toBe(traceId)
  })

  it('on a body the parser refuses', async () => {
    const res = await d.app.inject({
      method: 'POST',
      url: '/tools/demo.echo:invoke',
      headers: { ...d.admin, 'content-type': 'application/json' },
      payload: '{"input": ',
    })
    expect(res.statusCode).toBe(400)
    expect(res.json().trace_id).toBe(traceOf(res.headers))
  })
})
