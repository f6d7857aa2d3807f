import { createArwApiClient } from '@arw/openapi-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type TestDaemon, testDaemon } from '../daemon/src/testing/harness.ts'

// The client generated from spec/openapi.yaml (types by openapi-typescript, run by openapi-fetch),
// against a real daemon. That this file type-checks under the repo's strict settings is half the
// test: paths, bodies and answers are typed from the spec.
let d: TestDaemon
let baseUrl: string
beforeAll(async () => {
  d = await testDaemon()
  baseUrl = await d.listen()
})
afterAll(() => d.close())

describe('the generated OpenAPI client', () => {
  it('checks health, lists tools and invokes one, with typed answers', async () => {
    const api = createArwApiClient({ baseUrl, adminToken: d.admin['x-arw-admin']! })
    const health = await api.GET('/healthz')
    expect(health.data?.status).toBe('ok')

    const tools = await api.GET('/admin/introspect/tools')
    const ids: string[] = (tools.data ?? []).map((t) => t.id)
    expect(ids).toContain('demo.echo@1.0.0')

    const invoked = await api.POST('/tools/{tool_id}:invoke', {
      params: { path: { tool_id: 'demo.echo' } },
      body: { input: { text: 'typed' } },
    })
    expect(invoked.response.status).toBe(200)
    // 2xx answers are a 200 result or a 202 approval_required problem: the types make callers tell.
    const data = invoked.data
    if (!data || !('tool' in data)) throw new Error(`expected a result, got ${JSON.stringify(data)}`)
    expect(data.tool).toBe('demo.echo@1.0.0')
    expect(data.output).toEqual({ text: 'typed' })
  })

  it('returns the problem of a refused call as its typed error', async () => {
    const api = createArwApiClient({ baseUrl, adminToken: d.admin['x-arw-admin']! })
    const refused = await api.POST('/tools/{tool_id}:invoke', {
      params: { path: { tool_id: 'demo.echo' } },
      body: { input: { text: 42 } },
    })
    expect(refused.data).toBeUndefined()
    expect(refused.response.status).toBe(400)
    const problem = refused.error
    expect(problem?.code).toBe('validation_failed')
    expect(problem?.trace_id).toMatch(/^[0-9a-f]{32}$/)

    const anonymous = await createArwApiClient({ baseUrl }).GET('/admin/introspect/tools')
    expect(anonymous.response.status).toBe(401)
    expect(anonymous.error?.code).toBe('unauthorized')
  })
})
