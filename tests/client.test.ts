import { ArwClient, type ArwEvent, ArwProblemError, ArwUnreachableError } from '@arw/client'
import { SYSTEM_PRINCIPAL, traceFrom } from '@arw/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type TestDaemon, testDaemon } from '../daemon/src/testing/harness.ts'

let d: TestDaemon
let base: string
let client: ArwClient
beforeAll(async () => {
  d = await testDaemon({ config: { sseHeartbeatMs: 200 } })
  base = await d.listen()
  client = new ArwClient({ baseUrl: base, adminToken: d.admin['x-arw-admin']! })
})
afterAll(() => d.close())

describe('ArwClient', () => {
  it('checks health and lists tools', async () => {
    expect((await client.health()).status).toBe('ok')
    const tools = await client.tools()
    expect(tools.map((t) => t.id)).toContain('demo.echo@1.0.0')
    expect((await client.schema('demo.echo')).id).toBe('demo.echo@1.0.0')
  })

  it('invokes a tool and returns its typed answer', async () => {
    const result = await client.invoke<{ text: string }>('demo.echo', { text: 'hi' })
    expect(result.output.text).toBe('hi')
    expect(result.tool).toBe('demo.echo@1.0.0')
    expect(result.trace_id).toMatch(/^[0-9a-f]{32}$/)
  })

  it('replays the first answer for a repeated Idempotency-Key', async () => {
    const first = await client.invoke('demo.echo', { text: 'once' }, { idempotencyKey: 'client-test-1' })
    const second = await client.invoke('demo.echo', { text: 'once' }, { idempotencyKey: 'client-test-1' })
    expect(second.trace_id).toBe(first.trace_id)
  })

  it('throws the problem the daemon answered, with its code and field errors', async () => {
    const error = await client.invoke('demo.echo', { text: 5 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ArwProblemError)
    const problem = (error as ArwProblemError).problem
    expect(problem.status).toBe(400)
    expect(problem.code).toBe('validation_failed')
    expect(problem.errors?.[0]?.pointer).toBe('/input/text')
    const denied = await new ArwClient({ baseUrl: base, adminToken: 'wrong' })
      .tools()
      .catch((e: unknown) => e)
    expect((denied as ArwProblemError).code).toBe('unauthorized')
  })

  it('tells an unreachable daemon apart from a problem', async () => {
    const gone = new ArwClient({ baseUrl: 'http://127.0.0.1:1023' })
    await expect(gone.health()).rejects.toBeInstanceOf(ArwUnreachableError)
  })

  it('fetches spec documents', async () => {
    expect(await client.spec('openapi.yaml')).toMatch(/^openapi: 3\.1/m)
    expect(JSON.parse(await client.spec('mcp-tools.json')).tools.length).toBeGreaterThan(0)
  })

  it('streams events: replay first, then live, resuming exactly after the connection drops', async () => {
    for (let i = 0; i < 3; i++) await client.invoke('demo.echo', { text: `before-${i}` })
    const head = d.app.arw.journal.head
    const controller = new AbortController()
    const seen: ArwEvent[] = []
    const done = (async () => {
      for await (const event of client.events({ replay: 3, reconnect: true, signal: controller.signal })) {
        seen.push(event)
        if (seen.filter((e) => e.id !== undefined).length >= 3 + 20) break
      }
    })()
    const waitFor = async (n: number) => {
      for (let i = 0; i < 200 && seen.filter((e) => e.id !== undefined).length < n; i++) {
        await new Promise((r) => setTimeout(r, 20))
      }
    }
    await waitFor(3)
    for (let i = 0; i < 10; i++) await client.invoke('demo.echo', { text: `live-${i}` })
    await waitFor(13)
    // Drop every connection (the stream too); events keep arriving while the client is away.
    d.app.server.closeAllConnections()
    for (let i = 0; i < 10; i++) {
      await d.app.arw.pipeline.invoke({
        ref: 'demo.echo',
        input: { text: `after-${i}` },
        principal: SYSTEM_PRINCIPAL,
        trace: traceFrom(undefined),
        surface: 'test',
      })
    }
    await done
    controller.abort()
    const ids = seen.filter((e) => e.id !== undefined).map((e) => e.id!)
    expect(ids).toEqual(Array.from({ length: 23 }, (_, i) => head - 2 + i))
    expect(seen[0]?.kind).toBe('events.hello')
    // A second hello shows the reconnect resumed after the last id seen.
    const hellos = seen.filter((e) => e.kind === 'events.hello')
    expect(hellos.length).toBe(2)
    expect((hellos[1]!.payload as { after: number }).after).toBe(head + 10)
  })
})
