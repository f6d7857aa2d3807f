import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type TestDaemon, testDaemon } from '../../testing/harness.ts'

let d: TestDaemon
beforeAll(async () => {
  d = await testDaemon()
})
afterAll(async () => {
  await d.close()
})

describe('introspect.probe, served at GET /admin/probe', () => {
  it('answers the same body through its binding and as the output of :invoke', async () => {
    const echoed = await d.app.inject({
      method: 'POST',
      url: '/tools/demo.echo:invoke',
      headers: d.admin,
      payload: { input: { text: 'probed' }, task_id: 'probe-tool', step: 'one' },
    })
    const traceId = echoed.json().trace_id as string
    const bound = await d.app.inject({ url: `/admin/probe?task_id=probe-tool&limit=5`, headers: d.admin })
    expect(bound.statusCode).toBe(200)
    expect(bound.json()).toMatchObject({
      task_id: 'probe-tool',
      trace_id: null,
      step: null,
      count: 1,
      events: [{ kind: 'tool.ran', trace_id: traceId, payload: { tool: 'demo.echo@1.0.0', step: 'one' } }],
    })
    const invoked = await d.app.inject({
      method: 'POST',
      url: '/tools/introspect.probe:invoke',
      headers: d.admin,
      payload: { input: { task_id: 'probe-tool', limit: 5 } },
    })
    expect(invoked.json().output).toEqual(bound.json())
  })

  it('refuses, by its input schema, a probe that names neither a task nor a trace', async () => {
    const before = d.app.arw.journal.head
    const none = await d.app.inject({ url: '/admin/probe?step=a', headers: d.admin })
    expect(none.statusCode).toBe(400)
    expect(none.json()).toMatchObject({
      code: 'validation_failed',
      instance: '/admin/probe',
      errors: [{ pointer: '/query', message: 'needs task_id or trace_id', keyword: 'anyOf' }],
    })
    const badTrace = await d.app.inject({ url: '/admin/probe?trace_id=nope', headers: d.admin })
    expect(badTrace.json()).toMatchObject({ errors: [{ pointer: '/query/trace_id', keyword: 'pattern' }] })
    // Refused before the handler ran: the records are of the refusals only, without output.
    const records = (await d.app.arw.journal.read(before, 10)).filter((e) => e.kind === 'tool.ran')
    expect(records.map((e) => (e.payload as { outcome: string }).outcome)).toEqual(['error', 'error'])
  })
})
