import { defineTool } from '@arw/registry'
import Type from 'typebox'
import { afterAll, describe, expect, it } from 'vitest'
import { testDaemon } from '../testing/harness.ts'
import { offThread } from './off-thread.ts'

const TASKS = new URL('./off-thread-tasks.test-support.ts', import.meta.url)

const spin = defineTool({
  name: 'test.spin',
  version: '1.0.0',
  title: 'Spin',
  description: 'Holds a CPU for a while, off the main thread.',
  input: Type.Object({ ms: Type.Integer({ minimum: 0, maximum: 60_000 }) }),
  output: Type.Object({ spun: Type.Integer() }),
  timeoutMs: 300,
  handler: offThread<{ ms: number }, { spun: number }>(TASKS, 'spin'),
})
const hog = defineTool({
  name: 'test.hog',
  version: '1.0.0',
  title: 'Hog',
  description: 'Allocates memory without bound, off the main thread.',
  input: Type.Object({}),
  output: Type.Object({ held: Type.Integer() }),
  timeoutMs: 30_000,
  handler: offThread<Record<string, never>, { held: number }>(TASKS, 'hog'),
})
const double = defineTool({
  name: 'test.double',
  version: '1.0.0',
  title: 'Double',
  description: 'Doubles a number, off the main thread.',
  input: Type.Object({ n: Type.Integer() }),
  output: Type.Object({ n: Type.Integer() }),
  timeoutMs: 10_000,
  handler: offThread<{ n: number }, { n: number }>(TASKS, 'double'),
})

const d = await testDaemon({ extraTools: [spin, hog, double] })
afterAll(() => d.close())

const invoke = (tool: string, input: unknown) =>
  d.app.inject({
    method: 'POST',
    url: `/tools/${tool}:invoke`,
    headers: { ...d.admin, 'content-type': 'application/json' },
    payload: { input },
  })

describe('offThread handlers', () => {
  it('run on a worker thread and answer like any handler', async () => {
    const res = await invoke('test.double', { n: 21 })
    expect(res.statusCode).toBe(200)
    expect(res.json().output).toEqual({ n: 42 })
  })

  it('are stopped by their timeout (504 timeout), leaving the main thread free and the pool usable', async () => {
    let ticks = 0
    const ticker = setInterval(() => ticks++, 10)
    const res = await invoke('test.spin', { ms: 60_000 })
    clearInterval(ticker)
    expect(res.statusCode).toBe(504)
    expect(res.json().code).toBe('timeout')
    // The event loop kept running while the worker spun.
    expect(ticks).toBeGreaterThan(0)
    // Its worker was terminated, not left spinning: the next call gets a worker and answers.
    const after = await invoke('test.double', { n: 2 })
    expect(after.json().output).toEqual({ n: 4 })
  })

  it('are capped in memory: a handler that allocates without bound fails with 503, and the pool recovers', async () => {
    const res = await invoke('test.hog', {})
    expect(res.statusCode).toBe(503)
    expect(res.json()).toMatchObject({ code: 'unavailable' })
    expect(res.json().detail).toContain('memory limit')
    expect((await invoke('test.double', { n: 5 })).json().output).toEqual({ n: 10 })
  })
})
