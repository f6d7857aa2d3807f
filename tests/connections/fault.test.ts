import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { type Child, startChild, waitExit } from '../support/child.ts'

// The fault test of the connections issue: an OpenAPI upstream that stalls, drops connections and
// answers slowly, called by 200 concurrent callers through a daemon in its own process. The daemon
// must stay responsive (its /healthz and a built-in tool, measured against an unloaded baseline of
// the same run), the connection's concurrency cap must hold (counted by the upstream itself), and
// every call the daemon answered must have its journal record.

const TOKEN = 'fault-test-token-0123456789abcdef'
const headers = { 'x-arw-admin': TOKEN, 'content-type': 'application/json' }
const CALLERS = 200
const CALLS_PER_CALLER = 5
/** No caller starts a call after this long (the load is bounded in count and in time). */
const LOAD_MS = 6000
const CAP = 8
const QUEUE = 40
const MODES = ['slow', 'stall', 'drop', 'ok'] as const

const doc = {
  openapi: '3.0.3',
  info: { title: 'Unreliable', version: '1.0.0' },
  paths: {
    '/work': {
      get: {
        operationId: 'work',
        parameters: [{ name: 'mode', in: 'query', required: true, schema: { type: 'string', enum: MODES } }],
        responses: {
          '200': {
            description: 'done',
            content: {
              'application/json': { schema: { type: 'object', properties: { mode: { type: 'string' } } } },
            },
          },
        },
      },
    },
  },
}

/** What the upstream saw: requests in progress now, the most at once, and all of them. */
const upstreamSeen = { inFlight: 0, maxInFlight: 0, total: 0 }
let upstream: Server | undefined
let child: Child | undefined
const stateDir = mkdtempSync(join(tmpdir(), 'arw-fault-'))

afterAll(async () => {
  if (child) {
    child.proc.kill('SIGKILL')
    await waitExit(child.proc)
  }
  if (upstream) {
    upstream.closeAllConnections()
    await new Promise((resolve) => upstream!.close(resolve))
  }
  rmSync(stateDir, { recursive: true, force: true })
})

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url!, 'http://x')
  if (url.pathname === '/openapi.json') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc))
    return
  }
  upstreamSeen.total++
  upstreamSeen.inFlight++
  upstreamSeen.maxInFlight = Math.max(upstreamSeen.maxInFlight, upstreamSeen.inFlight)
  // Counted as ended at the first sign (answer sent, request or socket closed), so a call the
  // daemon gave up on is not counted against the requests that follow it.
  let ended = false
  const end = () => {
    if (ended) return
    ended = true
    upstreamSeen.inFlight--
  }
  res.once('finish', end)
  res.once('close', end)
  req.socket.once('end', end)
  req.socket.once('close', end)
  const mode = url.searchParams.get('mode')
  const answer = () => {
    if (!res.destroyed)
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ mode }))
  }
  if (mode === 'ok') answer()
  else if (mode === 'slow') setTimeout(answer, 150 + Math.random() * 350)
  else if (mode === 'drop') setTimeout(() => req.socket.destroy(), 10 + Math.random() * 40)
  // `stall`: never answers; the daemon's timeout ends it.
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

async function post(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) })
  return { status: res.status, body: await res.json() }
}

/** One round of the probes: /healthz and a built-in tool, each timed. */
async function probeOnce(base: string, healthz: number[], builtin: number[]): Promise<void> {
  let t = performance.now()
  const health = await fetch(`${base}/healthz`)
  await health.arrayBuffer()
  healthz.push(performance.now() - t)
  t = performance.now()
  const res = await fetch(`${base}/tools/time.now:invoke`, { method: 'POST', headers, body: '{"input":{}}' })
  await res.arrayBuffer()
  builtin.push(performance.now() - t)
  expect(res.status).toBe(200)
}

describe('an upstream that stalls, drops connections and answers slowly, under 200 callers', () => {
  it('leaves the daemon responsive, never exceeds the concurrency cap, and loses no journal record', async () => {
    upstream = createServer(handle)
    await new Promise<void>((resolve) => upstream!.listen(0, '127.0.0.1', resolve))
    const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
    child = await startChild({
      ARW_ADMIN_TOKEN: TOKEN,
      ARW_STATE_DIR: stateDir,
      ARW_CONNECTIONS_HEALTH_MS: '0',
    })
    const base = child.url
    const created = await post(`${base}/connections`, {
      id: 'c-unreliable',
      connectorId: 'http',
      target: { openapi: `${origin}/openapi.json`, baseUrl: origin },
      concurrency: { max: CAP, queue: QUEUE },
      timeoutMs: 800,
      retry: { maxAttempts: 2 },
      backoff: { initialMs: 20, maxMs: 100 },
      breaker: { failures: 1000, halfOpenAfterMs: 1000 },
    })
    expect(created.status).toBe(200)
    const linked = await post(`${base}/links`, {
      id: 'l-unreliable',
      connectionId: 'c-unreliable',
      serviceId: 'unreliable',
      autoEnable: true,
    })
    expect(linked.body.link).toMatchObject({ status: 'up', tools: ['unreliable.work@1.0.0'] })

    // Warm up (connections, JIT), then the unloaded baseline.
    for (let i = 0; i < 10; i++) await probeOnce(base, [], [])
    expect((await post(`${base}/tools/unreliable.work:invoke`, { input: { mode: 'ok' } })).status).toBe(200)
    const baseline = { healthz: [] as number[], builtin: [] as number[] }
    for (let i = 0; i < 60; i++) {
      await probeOnce(base, baseline.healthz, baseline.builtin)
      await new Promise((r) => setTimeout(r, 5))
    }

    const loaded = { healthz: [] as number[], builtin: [] as number[] }
    let loading = true
    const prober = (async () => {
      while (loading) {
        await probeOnce(base, loaded.healthz, loaded.builtin)
        await new Promise((r) => setTimeout(r, 10))
      }
    })()

    const answers: { caller: number; status: number; code: string | undefined; trace: string }[] = []
    const started = performance.now()
    const caller = async (n: number) => {
      for (let round = 0; round < CALLS_PER_CALLER && performance.now() - started < LOAD_MS; round++) {
        const mode = MODES[(n + round) % MODES.length]!
        const res = await post(`${base}/tools/unreliable.work:invoke`, {
          input: { mode },
          task_id: `fault-${n}`,
        })
        answers.push({ caller: n, status: res.status, code: res.body.code, trace: res.body.trace_id })
        // A refused caller comes back a little later (Retry-After is whole seconds: too coarse here).
        if (res.status === 429) await new Promise((r) => setTimeout(r, 100 + Math.random() * 100))
      }
    }
    await Promise.all(Array.from({ length: CALLERS }, (_, n) => caller(n)))
    loading = false
    await prober

    // Each call was answered with a governed outcome, never an internal error.
    const byStatus: Record<number, number> = {}
    for (const a of answers) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1
    const codes = new Set(answers.filter((a) => a.status !== 200).map((a) => a.code))
    console.log(
      `fault: ${answers.length} answers ${JSON.stringify(byStatus)}, codes ${[...codes].join(',')}; upstream saw ${upstreamSeen.total} requests, at most ${upstreamSeen.maxInFlight} at once (cap ${CAP})`,
    )
    expect(answers.length).toBeGreaterThanOrEqual(CALLERS)
    expect([...codes].every((c) => ['rate_limited', 'timeout', 'upstream_error'].includes(c!))).toBe(true)
    expect(byStatus[200]).toBeGreaterThan(0)
    expect(byStatus[429]).toBeGreaterThan(0)
    expect(codes).toContain('timeout')
    expect(codes).toContain('upstream_error')

    // The cap held, and was reached (the load was real).
    expect(upstreamSeen.maxInFlight).toBeLessThanOrEqual(CAP)
    expect(upstreamSeen.maxInFlight).toBe(CAP)

    // Responsive: /healthz and a built-in tool stay within a small multiple of their unloaded p90.
    const ratios = {
      healthz: percentile(loaded.healthz, 90) / percentile(baseline.healthz, 90),
      builtin: percentile(loaded.builtin, 90) / percentile(baseline.builtin, 90),
    }
    console.log(
      `fault: p90 unloaded/loaded healthz ${percentile(baseline.healthz, 90).toFixed(2)}/${percentile(loaded.healthz, 90).toFixed(2)} ms (ratio ${ratios.healthz.toFixed(2)}), time.now ${percentile(baseline.builtin, 90).toFixed(2)}/${percentile(loaded.builtin, 90).toFixed(2)} ms (ratio ${ratios.builtin.toFixed(2)}); ${loaded.healthz.length} probes under load`,
    )
    expect(loaded.healthz.length).toBeGreaterThan(10)
    expect(ratios.healthz).toBeLessThan(5)
    expect(ratios.builtin).toBeLessThan(5)

    // No record lost: each answered call's trace has its tool.ran record, under its caller's task.
    const missing: string[] = []
    for (let n = 0; n < CALLERS; n++) {
      const res = await fetch(`${base}/admin/probe?task_id=fault-${n}&limit=1000`, { headers })
      const probe = (await res.json()) as { events: { kind: string; trace_id: string }[] }
      const recorded = new Set(probe.events.filter((e) => e.kind === 'tool.ran').map((e) => e.trace_id))
      for (const a of answers) if (a.caller === n && !recorded.has(a.trace)) missing.push(`${n}:${a.trace}`)
    }
    expect(missing).toEqual([])
    child.proc.kill('SIGTERM')
    await waitExit(child.proc)
    child = undefined
  }, 120_000)
})
