import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { type Child, startChild, waitExit } from './support/child.ts'

const TOKEN = 'stall-test-token-0123456789abcdef'
const headers = { 'x-arw-admin': TOKEN, 'content-type': 'application/json' }
let child: Child | undefined

// Its own state directory: never the user's ~/.arw (whose lock another daemon may hold).
const stateDir = mkdtempSync(join(tmpdir(), 'arw-stall-'))
afterAll(async () => {
  if (child) {
    child.proc.kill('SIGKILL')
    await waitExit(child.proc)
  }
  rmSync(stateDir, { recursive: true, force: true })
})

// Ordinary prose with some non-ASCII, repeated to a length.
const PROSE =
  "The quick brown fox jumps over the lazy dog. It wasn't late, was it? Yes! Ünïcödé façade, naïve café. 3.14 and 1,000 items; e.g. Dr. Smith said so.\n"
const prose = (length: number) => PROSE.repeat(Math.ceil(length / PROSE.length)).slice(0, length)

const CONNECTOR_ID = `g${'w'.repeat(63)}`
const CONNECTION_ID = `c${'o'.repeat(63)}`
const LINK_ID = `l${'i'.repeat(63)}`

/**
 * The largest input each built-in tool's schema accepts (every string at its maxLength). A tool
 * served without an entry here fails the test: new tools must be bounded too.
 */
const LARGEST: Record<string, Array<Record<string, unknown>>> = {
  'demo.echo': [{ text: prose(65_536) }],
  'egress.settings.get': [{}],
  // Open, with the largest allowlist: what it allows is unchanged for the calls that follow.
  'egress.settings.update': [
    { posture: 'open', allow: Array.from({ length: 500 }, (_, i) => `host-${i}.example.com:${1000 + i}`) },
  ],
  'egress.ledger.list': [{ limit: 1000 }],
  'egress.state': [{}],
  'egress.preview': [{ url: `https://api.example.com/${'p'.repeat(2000)}`, scope: 's'.repeat(200) }],
  'hash.digest': [
    { text: prose(1_000_000), algorithm: 'sha512' },
    { base64: Buffer.alloc(1_050_000, 7).toString('base64'), algorithm: 'sha256' },
  ],
  'text.stats': [{ text: prose(1_000_000) }, { text: 'ab '.repeat(333_333) }],
  'time.now': [{ zone: 'America/Argentina/ComodRivadavia', at: '2026-12-01T23:59:59.999999999+14:00' }],
  'memory.probe': [{}],
  'introspect.probe': [
    { task_id: 't'.repeat(200), trace_id: 'a'.repeat(32), step: 's'.repeat(200), limit: 1000 },
  ],
  'introspect.tools': [{ query: 'q'.repeat(200), capability: 'c'.repeat(100), all_versions: true }],
  // The connections area, in an order in which each call finds what it names (ids at 64 characters).
  'connectors.register': [
    {
      id: CONNECTOR_ID,
      kind: 'mcp',
      name: 'n'.repeat(200),
      capabilities: Array.from({ length: 64 }, () => 'c'.repeat(64)),
      version: '1.0.0',
      description: 'd'.repeat(4000),
      targetDefaults: { url: `https://${'h'.repeat(200)}.example/mcp` },
    },
  ],
  'connectors.list': [{}],
  'conn.create': [
    {
      id: CONNECTION_ID,
      connectorId: 'local',
      target: { module: `/nonexistent/${'m'.repeat(4000)}.mjs` },
      rateLimit: { perSecond: 100_000, burst: 100_000 },
      concurrency: { max: 10_000, queue: 10_000 },
      retry: { maxAttempts: 10 },
      backoff: { initialMs: 60_000, maxMs: 300_000 },
      breaker: { failures: 1000, halfOpenAfterMs: 3_600_000 },
      qos: { priority: 'high' },
      timeoutMs: 600_000,
      tags: Array.from({ length: 32 }, (_, i) => `${i}`.padEnd(64, 't')),
      notes: 'n'.repeat(4096),
      policyId: 'p'.repeat(200),
    },
  ],
  'conn.get': [{ id: CONNECTION_ID }],
  'conn.list': [{ tag: '0'.padEnd(64, 't'), status: 'disabled' }],
  'conn.update': [{ id: CONNECTION_ID, version: 1, notes: 'u'.repeat(4096) }],
  'conn.set_policy': [{ id: CONNECTION_ID, policyId: 'q'.repeat(200) }],
  'conn.bind_secret': [{ id: CONNECTION_ID, secret: 's'.repeat(16384) }],
  'conn.toggle': [{ id: CONNECTION_ID, enabled: false }],
  'conn.test': [{ id: CONNECTION_ID }],
  'link.create': [
    { id: LINK_ID, connectionId: CONNECTION_ID, serviceId: `s${'x'.repeat(39)}`, autoEnable: false },
  ],
  'link.list': [{ connectionId: CONNECTION_ID }],
  'link.delete': [{ id: LINK_ID }],
  'conn.delete': [{ id: CONNECTION_ID }],
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

async function poll(url: string, until: () => boolean, samples: number[]): Promise<void> {
  while (!until()) {
    const t = performance.now()
    const res = await fetch(`${url}/healthz`)
    await res.arrayBuffer()
    samples.push(performance.now() - t)
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('one valid call never stalls the daemon', () => {
  it('answers /healthz within a small multiple of its unloaded latency while every tool gets its largest input', async () => {
    child = await startChild({
      ARW_ADMIN_TOKEN: TOKEN,
      ARW_STATE_DIR: stateDir,
      ARW_BODY_LIMIT: String(8 * 1024 * 1024),
    })
    const { url } = child
    const tools = (await (await fetch(`${url}/admin/introspect/tools`, { headers })).json()) as Array<{
      name: string
    }>
    expect(Object.keys(LARGEST).sort()).toEqual([...new Set(tools.map((t) => t.name))].sort())

    // Warm up both paths (connections, JIT, the worker pool), then measure the unloaded baseline.
    await fetch(`${url}/tools/text.stats:invoke`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ input: { text: 'warm up' } }),
    })
    const baseline: number[] = []
    let n = 0
    await poll(url, () => n++ >= 60, baseline)

    const loaded: number[] = []
    let done = false
    const poller = poll(url, () => done, loaded)
    const statuses: Record<string, number[]> = {}
    for (const [tool, inputs] of Object.entries(LARGEST)) {
      for (const input of inputs) {
        const res = await fetch(`${url}/tools/${tool}:invoke`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ input }),
        })
        await res.arrayBuffer()
        statuses[tool] = [...(statuses[tool] ?? []), res.status]
      }
    }
    done = true
    await poller
    // Every largest input is served (text.stats within its timeout, not cut off by it).
    for (const [tool, codes] of Object.entries(statuses))
      expect({ tool, codes }).toEqual({ tool, codes: codes.map(() => 200) })
    expect(loaded.length).toBeGreaterThan(5)
    const ratio = percentile(loaded, 90) / percentile(baseline, 90)
    console.log(
      `healthz p90 unloaded ${percentile(baseline, 90).toFixed(1)} ms, loaded ${percentile(loaded, 90).toFixed(1)} ms (ratio ${ratio.toFixed(2)}); max loaded ${Math.max(...loaded).toFixed(1)} ms over ${loaded.length} polls`,
    )
    expect(ratio).toBeLessThan(5)
    // The loop's delay is reported beside the other health facts and in the stats.
    const health = (await (await fetch(`${url}/healthz`)).json()) as { status: string; event_loop: object }
    expect(health.event_loop).toMatchObject({ stalled: false, delay_p99_ms: expect.any(Number) })
    expect(health.status).toBe('ok')
    const stats = (await (await fetch(`${url}/admin/introspect/stats`, { headers })).json()) as {
      event_loop: object
    }
    expect(stats.event_loop).toMatchObject({ delay_p50_ms: expect.any(Number), window_s: expect.any(Number) })
    child.proc.kill('SIGTERM')
    await waitExit(child.proc)
  }, 180_000)
})
