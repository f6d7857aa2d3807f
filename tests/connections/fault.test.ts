import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
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
/** Each caller makes at most this many calls, and none after LOAD_MAX_MS: bounded in count and time. */
const CALLS_PER_CALLER = 50
const LOAD_MAX_MS = 20_000
/** Probe rounds taken under load (the load lasts until they are done, or LOAD_MAX_MS). */
const PROBES = 60
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
  else if (mode === 'drop') {
    setTimeout(
      () => {
        // Ended when dropped (the socket's close event comes a turn later, maybe after the retry).
        end()
        req.socket.destroy()
      },
      10 + Math.random() * 40,
    )
  }
  // `stall`: never answers; the daemon's timeout ends it.
}

interface Answer {
  caller: number
  status: number
  code: string | undefined
  trace: string
}

/**
 * The 200 callers, in a worker thread: their own event loop, so the probes of the test's main
 * thread time the daemon, not the load generator's queue. Stops on a message or at its bounds.
 */
const CALLERS_WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const { base, headers, callers, perCaller, maxMs, modes } = workerData
let stop = false
parentPort.on('message', () => { stop = true })
const answers = []
const started = Date.now()
async function caller(n) {
  for (let round = 0; round < perCaller && !stop && Date.now() - started < maxMs; round++) {
    const mode = modes[(n + round) % modes.length]
    const res = await fetch(base + '/tools/unreliable.work:invoke', {
      method: 'POST', headers, body: JSON.stringify({ input: { mode }, task_id: 'fault-' + n }),
    })
    const body = await res.json()
    answers.push({ caller: n, status: res.status, code: body.code, trace: body.trace_id })
    // A refused caller honours Retry-After (plus jitter), as a well-behaved client does; any
    // other answer is followed by a short think time, as an agent's next step is.
    const wait = res.status === 429 ? Number(res.headers.get('retry-after') ?? 1) * 1000 : 250
    await new Promise((r) => setTimeout(r, wait * (1 + Math.random())))
  }
}
Promise.all(Array.from({ length: callers }, (_, n) => caller(n))).then(() => parentPort.postMessage(answers))
`

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
      // Timing the daemon, not the suite's response checker (Prism validating each of a thousand
      // answers); the kinds of answer it gives here are checked against the spec by other tests.
      ARW_CONTRACT_CHECK: '',
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

    // Warm up (connections, JIT).
    for (let i = 0; i < 10; i++) await probeOnce(base, [], [])
    expect((await post(`${base}/tools/unreliable.work:invoke`, { input: { mode: 'ok' } })).status).toBe(200)
    // The unloaded baseline: rounds before the load and again after it, pooled, so that the
    // machine's other work drifting during the test weighs on both sides alike.
    const baseline = { healthz: [] as number[], builtin: [] as number[] }
    const unloaded = async (rounds: number) => {
      for (let i = 0; i < rounds; i++) {
        await probeOnce(base, baseline.healthz, baseline.builtin)
        await new Promise((r) => setTimeout(r, 5))
      }
    }
    await unloaded(PROBES / 2)

    const loadStarted = performance.now()
    const worker = new Worker(CALLERS_WORKER, {
      eval: true,
      workerData: {
        base,
        headers,
        callers: CALLERS,
        perCaller: CALLS_PER_CALLER,
        maxMs: LOAD_MAX_MS,
        modes: MODES,
      },
    })
    const finished = new Promise<Answer[]>((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })
    // Probing starts once the load is on (the cap is reached upstream).
    for (let i = 0; i < 500 && upstreamSeen.maxInFlight < CAP; i++)
      await new Promise((r) => setTimeout(r, 10))
    const loaded = { healthz: [] as number[], builtin: [] as number[] }
    let loadDone = false
    void finished.then(() => {
      loadDone = true
    })
    while (loaded.healthz.length < PROBES && !loadDone) {
      await probeOnce(base, loaded.healthz, loaded.builtin)
      await new Promise((r) => setTimeout(r, 5))
    }
    worker.postMessage('stop')
    const answers = await finished
    const loadMs = performance.now() - loadStarted
    await worker.terminate()
    // Stalled calls end at their timeout: the load is over once nothing is in flight upstream.
    for (let i = 0; i < 300 && upstreamSeen.inFlight > 0; i++) await new Promise((r) => setTimeout(r, 10))
    await unloaded(PROBES / 2)

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

    // Responsive: /healthz and a built-in tool stay within a small multiple of their unloaded
    // latency. Medians: the machine's other work adds spikes to either side, not a shift. The
    // bound is loose on purpose (a tool's answer also waits for its journal commit, batched with
    // the load's own records; the CI machine is shared): a daemon that stalls shows seconds.
    const line = (name: string, before: number[], after: number[]) =>
      `${name} p50 ${percentile(before, 50).toFixed(2)} -> ${percentile(after, 50).toFixed(2)} ms, p90 ${percentile(before, 90).toFixed(2)} -> ${percentile(after, 90).toFixed(2)} ms`
    const ratios = {
      healthz: percentile(loaded.healthz, 50) / percentile(baseline.healthz, 50),
      builtin: percentile(loaded.builtin, 50) / percentile(baseline.builtin, 50),
    }
    console.log(
      `fault: ${line('healthz', baseline.healthz, loaded.healthz)} (ratio ${ratios.healthz.toFixed(2)}); ${line('time.now', baseline.builtin, loaded.builtin)} (ratio ${ratios.builtin.toFixed(2)}); ${loaded.healthz.length} probe rounds in ${(loadMs / 1000).toFixed(1)} s of load (${Math.round(answers.length / (loadMs / 1000))} answers/s)`,
    )
    expect(loaded.healthz.length).toBe(PROBES)
    expect(ratios.healthz).toBeLessThan(10)
    expect(ratios.builtin).toBeLessThan(10)

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
