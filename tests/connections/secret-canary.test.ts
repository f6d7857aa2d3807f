import { createHmac, randomUUID } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import pino from 'pino'
import { afterAll, describe, expect, it } from 'vitest'
import { KEY_FILE } from '../../daemon/src/areas/connections/secrets.ts'
import { admin, StateDir, WEATHER } from './support.ts'

/** Every file under `dir`, recursively. */
function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path) : [path]
  })
}

const state = new StateDir()
afterAll(() => state.remove())

describe('a bound secret', () => {
  it('is in no byte the daemon wrote: state files, logs, SSE, HTTP answers, specs', async () => {
    const canary = `canary-${randomUUID()}`
    let logs = ''
    const logger = pino(
      { level: 'trace' },
      new Writable({
        write(chunk, _enc, done) {
          logs += chunk.toString()
          done()
        },
      }),
    )
    const app = await state.start({}, {}, logger)
    const base = await app.listen({ host: '127.0.0.1', port: 0 })
    const answers: string[] = []
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { ...admin, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      })
      const text = await res.text()
      answers.push(`${res.status} ${JSON.stringify([...res.headers])} ${text}`)
      return { status: res.status, text }
    }
    // The event stream, raw, from before the secret is bound.
    const sse = new AbortController()
    let stream = ''
    const events = await fetch(`${base}/admin/events`, { headers: admin, signal: sse.signal })
    const reading = (async () => {
      const decoder = new TextDecoder()
      try {
        for await (const chunk of events.body as unknown as AsyncIterable<Uint8Array>)
          stream += decoder.decode(chunk, { stream: true })
      } catch {
        // aborted at the end of the test
      }
    })()
    try {
      expect(
        (
          await call('POST', '/connections', {
            id: 'c-canary',
            connectorId: 'local',
            target: { module: WEATHER },
          })
        ).status,
      ).toBe(200)
      expect((await call('POST', '/connections/c-canary/bind-secret', { secret: canary })).status).toBe(200)
      // Bound again over :invoke and MCP-style tool ids, and refused for an unknown connection.
      expect(
        (await call('POST', '/tools/conn.bind_secret:invoke', { input: { id: 'c-canary', secret: canary } }))
          .status,
      ).toBe(200)
      expect((await call('POST', '/connections/nope/bind-secret', { secret: canary })).status).toBe(404)
      expect(
        (await call('POST', '/connections/c-canary/bind-secret', { secret: canary, extra: 1 })).status,
      ).toBe(400)
      expect(
        (await call('POST', '/links', { connectionId: 'c-canary', serviceId: 'canary', autoEnable: true }))
          .status,
      ).toBe(200)
      const forecast = await call('POST', '/tools/canary.forecast:invoke', { input: { city: 'Bern' } })
      expect(forecast.status).toBe(200)
      // A local module's tool gets the bound secret (and only it sees it): its HMAC proves it.
      const signed = await call('POST', '/tools/canary.sign:invoke', { input: { text: 'Bern' } })
      expect(JSON.parse(signed.text).output).toEqual({
        signature: createHmac('sha256', canary).update('Bern').digest('hex'),
      })
      await call('POST', '/connections/c-canary/test')
      const read = await call('GET', '/connections/c-canary')
      expect(JSON.parse(read.text).connection.secretRef).toMatch(/^sealed:c-canary@/)
      await call('GET', '/connections')
      await call('GET', '/links')
      await call('GET', '/admin/introspect/tools')
      for (const spec of ['openapi.yaml', 'asyncapi.yaml', 'mcp-tools.json'])
        await call('GET', `/spec/${spec}`)
      const traces = [...answers.join('\n').matchAll(/"trace_id":"([0-9a-f]{32})"/g)].map((m) => m[1]!)
      for (const trace of new Set(traces)) await call('GET', `/admin/probe?trace_id=${trace}`)
      await new Promise((r) => setTimeout(r, 200))
    } finally {
      sse.abort()
      await reading
      await app.close()
    }
    const written = files(state.dir)
      .filter((path) => !path.endsWith(KEY_FILE))
      .map((path) => ({ path, bytes: readFileSync(path) }))
    // The grep can see what the daemon stored: the connection id is in its files, events and answers.
    expect(written.some((f) => f.bytes.includes('c-canary'))).toBe(true)
    // ...and a call's recorded input (the city), stored in the journal as the secret's input would be.
    expect(written.some((f) => f.bytes.includes('Bern'))).toBe(true)
    expect(stream).toContain('connections.secret_bound')
    expect(logs.length).toBeGreaterThan(0)
    for (const f of written) expect(f.bytes.includes(canary), f.path).toBe(false)
    expect(logs.includes(canary)).toBe(false)
    expect(stream.includes(canary)).toBe(false)
    for (const answer of answers) expect(answer.includes(canary)).toBe(false)
  })
})
