import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type TestDaemon, testDaemon } from '../../testing/harness.ts'

let d: TestDaemon
beforeAll(async () => {
  d = await testDaemon()
})
afterAll(async () => {
  await d.close()
})

describe('introspection', () => {
  it('GET /healthz answers without a token', async () => {
    const res = await d.app.inject({ url: '/healthz' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({
      status: 'ok',
      version: expect.any(String),
      durability: 'commit',
      journal_head: expect.any(Number),
    })
  })

  it('lists every tool with its metadata, sorted', async () => {
    const res = await d.app.inject({ url: '/admin/introspect/tools', headers: d.admin })
    const tools = res.json() as Array<{ id: string; current: boolean; stability: string; risk: string }>
    const ids = tools.map((t) => t.id)
    for (const id of [
      'demo.echo@1.0.0',
      'memory.probe@1.0.0',
      'introspect.tools@1.0.0',
      'hash.digest@1.0.0',
      'time.now@1.0.0',
      'text.stats@1.0.0',
    ]) {
      expect(ids).toContain(id)
    }
    expect([...ids].sort()).toEqual(ids)
    expect(tools.find((t) => t.id === 'memory.probe@1.0.0')).toMatchObject({
      current: true,
      stability: 'stable',
      risk: 'low',
      hints: { readOnly: true },
    })
  })

  it('serves the schemas of a tool by id with or without version', async () => {
    const withVersion = await d.app.inject({
      url: '/admin/introspect/schemas/memory.probe@1.0.0',
      headers: d.admin,
    })
    expect(withVersion.statusCode).toBe(200)
    expect(withVersion.json()).toMatchObject({
      id: 'memory.probe@1.0.0',
      input: { type: 'object' },
      output: { type: 'object', properties: { process: expect.any(Object) } },
    })
    const bare = await d.app.inject({ url: '/admin/introspect/schemas/memory.probe', headers: d.admin })
    expect(bare.json().id).toBe('memory.probe@1.0.0')
    const missing = await d.app.inject({
      url: '/admin/introspect/schemas/memory.probe@3.0.0',
      headers: d.admin,
    })
    expect(missing.statusCode).toBe(404)
  })

  it('probe returns what the journal knows of a task, by step', async () => {
    for (const step of ['a', 'b']) {
      await d.app.inject({
        method: 'POST',
        url: '/tools/demo.echo:invoke',
        headers: d.admin,
        payload: { input: { text: step }, task_id: 'probe-task', step },
      })
    }
    const all = await d.app.inject({ url: '/admin/probe?task_id=probe-task', headers: d.admin })
    expect(all.json()).toMatchObject({ task_id: 'probe-task', count: 2 })
    const one = await d.app.inject({ url: '/admin/probe?task_id=probe-task&step=b', headers: d.admin })
    expect(one.json().count).toBe(1)
    expect(one.json().events[0].payload).toMatchObject({ step: 'b', input: { text: 'b' } })
    // Neither task_id nor trace_id: refused by the query schema, like any other invalid query.
    const none = await d.app.inject({ url: '/admin/probe', headers: d.admin })
    expect(none.statusCode).toBe(400)
    expect(none.json()).toMatchObject({
      code: 'validation_failed',
      type: 'urn:arw:problem:validation_failed',
    })
    // A query parameter the route does not declare is refused, here as on every route.
    for (const url of ['/admin/probe?task_id=x&tsk=1', '/healthz?verbose=1']) {
      const unknown = await d.app.inject({ url, headers: d.admin })
      expect(unknown.statusCode, url).toBe(400)
      expect(unknown.json().code).toBe('validation_failed')
    }
    const badLimit = await d.app.inject({ url: '/admin/probe?task_id=x&limit=abc', headers: d.admin })
    expect(badLimit.statusCode).toBe(400)
    expect(badLimit.json().errors[0].pointer).toBe('/query/limit')
  })
})

describe('first-party tools', () => {
  const call = (id: string, input: unknown) =>
    d.app.inject({ method: 'POST', url: `/tools/${id}:invoke`, headers: d.admin, payload: { input } })

  it('memory.probe reports process and system memory', async () => {
    const res = await call('memory.probe', {})
    const out = res.json().output
    expect(out.process.rss_bytes).toBeGreaterThan(1_000_000)
    expect(out.system.total_bytes).toBeGreaterThan(out.system.free_bytes)
    expect(out.system.load_avg).toHaveLength(3)
  })

  it('introspect.tools filters by query and capability', async () => {
    const res = await call('introspect.tools', { query: 'hash' })
    expect(res.json().output.tools.map((t: { id: string }) => t.id)).toEqual(['hash.digest@1.0.0'])
    const byCap = await call('introspect.tools', { capability: 'introspection' })
    expect(byCap.json().output.tools.map((t: { id: string }) => t.id)).toEqual([
      'introspect.probe@1.0.0',
      'introspect.tools@1.0.0',
      'memory.probe@1.0.0',
    ])
  })

  it('hash.digest hashes text, else bytes, else the empty input, as its description says', async () => {
    const text = await call('hash.digest', { text: 'abc' })
    expect(text.json().output).toEqual({
      algorithm: 'sha256',
      encoding: 'hex',
      digest: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      bytes: 3,
    })
    const bytes = await call('hash.digest', {
      base64: Buffer.from('abc').toString('base64'),
      algorithm: 'md5',
    })
    expect(bytes.json().output.digest).toBe('900150983cd24fb0d6963f7d28e17f72')
    // The schema sets no rule across text and base64, and the handler refuses nothing it allows.
    const both = await call('hash.digest', { text: 'abc', base64: 'eHl6' })
    expect(both.json().output).toMatchObject({ digest: text.json().output.digest, bytes: 3 })
    const neither = await call('hash.digest', {})
    expect(neither.statusCode).toBe(200)
    expect(neither.json().output).toMatchObject({
      digest: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      bytes: 0,
    })
  })

  it('time.now converts an instant to a zone', async () => {
    const res = await call('time.now', { zone: 'Asia/Tokyo', at: '2026-03-01T12:00:00Z' })
    expect(res.json().output).toEqual({
      iso: '2026-03-01T12:00:00.000Z',
      epoch_ms: Date.parse('2026-03-01T12:00:00Z'),
      zone: 'Asia/Tokyo',
      local: '2026-03-01T21:00:00',
      offset: '+09:00',
      weekday: 'Sunday',
    })
    const bad = await call('time.now', { zone: 'Mars/Olympus' })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().errors[0].pointer).toBe('/input/zone')
  })

  it('text.stats counts graphemes, bytes, words, lines and sentences', async () => {
    const text = 'Héllo wörld. Ça va?\nSecond line 👍🏽'
    const res = await call('text.stats', { text })
    expect(res.json().output).toMatchObject({
      words: 6,
      lines: 2,
      sentences: 3,
      utf8_bytes: Buffer.byteLength(text),
    })
    expect(res.json().output.graphemes).toBeLessThan(res.json().output.code_points)
  })
})

describe('GET /admin/introspect/stats', () => {
  it('counts hits, errors and latency per route and per tool, and events by kind', async () => {
    await d.app.inject({
      method: 'POST',
      url: '/tools/demo.echo:invoke',
      headers: d.admin,
      payload: { input: { text: 'a' } },
    })
    await d.app.inject({
      method: 'POST',
      url: '/tools/demo.echo:invoke',
      headers: d.admin,
      payload: { input: { text: 1 } },
    })
    const res = await d.app.inject({ url: '/admin/introspect/stats', headers: d.admin })
    expect(res.statusCode).toBe(200)
    const stats = res.json()
    const route = stats.routes.find((r: { name: string }) => r.name === 'POST /tools/:call')
    expect(route.hits).toBeGreaterThanOrEqual(2)
    expect(route.errors).toBeGreaterThanOrEqual(1)
    const tool = stats.tools.find((t: { name: string }) => t.name === 'demo.echo@1.0.0')
    expect(tool).toMatchObject({ hits: expect.any(Number), errors: expect.any(Number) })
    expect(tool.errors).toBeGreaterThanOrEqual(1)
    expect(tool.max_ms).toBeGreaterThanOrEqual(tool.last_ms)
    expect(stats.events.by_kind['tool.ran']).toBeGreaterThanOrEqual(2)
    expect(stats.events.head).toBeGreaterThanOrEqual(stats.events.since_start)
  })
})
