import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import autocannon from 'autocannon'

const ROOT = new URL('../../', import.meta.url)

export interface Child {
  child: ChildProcess
  /** The first JSON line the child printed (its port, or readiness). */
  ready: Record<string, unknown>
  /** Further JSON lines, in order. */
  next(): Promise<Record<string, unknown>>
  /**
   * Stops the child. `graceful` closes its stdin and waits for it to exit by itself (servers
   * exit when their stdin ends, see servers/ready.ts), so exit hooks run: `--cpu-prof` writes its
   * profile only on a normal exit, not when the process is killed by a signal.
   */
  stop(options?: { graceful?: boolean }): Promise<void>
}

/** Starts a TypeScript file of this repo in its own Node process and waits for its first JSON line. */
export async function startChild(
  file: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
  nodeArgs: string[] = [],
): Promise<Child> {
  const entry = new URL(file, ROOT).pathname
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', entry, ...args], {
    cwd: ROOT.pathname,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: child.stdout! })
  const waiting: Array<(line: Record<string, unknown>) => void> = []
  const buffered: Record<string, unknown>[] = []
  lines.on('line', (line) => {
    let parsed: Record<string, unknown>
    try {
      parsed = JSON.parse(line)
    } catch {
      return
    }
    const waiter = waiting.shift()
    if (waiter) waiter(parsed)
    else buffered.push(parsed)
  })
  const next = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const line = buffered.shift()
      if (line) return resolve(line)
      const timer = setTimeout(() => reject(new Error(`${file} did not answer in 30 s`)), 30_000)
      waiting.push((l) => {
        clearTimeout(timer)
        resolve(l)
      })
    })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const ready = await Promise.race([
    next(),
    exited.then(() => {
      throw new Error(`${file} exited before it was ready`)
    }),
  ])
  return {
    child,
    ready,
    next,
    stop: async (options = {}) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.stdin?.end()
      const term = setTimeout(() => child.kill('SIGTERM'), options.graceful ? 30_000 : 0)
      const kill = setTimeout(() => child.kill('SIGKILL'), options.graceful ? 33_000 : 3000)
      await exited
      clearTimeout(term)
      clearTimeout(kill)
    },
  }
}

/** CPU time (user + system, all threads) a process has used, in microseconds. */
export function cpuMicros(pid: number | undefined): number {
  if (!pid) return 0
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10_000
  } catch {
    return 0
  }
}

export interface LoadResult {
  rps: number
  /** Latency percentiles of the measured round, in milliseconds. */
  p50: number
  p99: number
  total: number
  non2xx: number
  errors: number
  /** Server CPU per request (µs), all its threads. */
  cpuPerRequest: number
}

export interface LoadOptions {
  url: string
  body?: string
  headers?: Record<string, string>
  connections: number
  warmupSeconds: number
  seconds: number
  pid?: number | undefined
}

/**
 * One autocannon round. With `latencies`, every response's time (float milliseconds) is pushed to
 * it: autocannon's own percentiles come from an integer-millisecond histogram, too coarse for a
 * p99 of 1 ms or less to be compared.
 */
function run(options: autocannon.Options, latencies?: number[]): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (error, result) => (error ? reject(error) : resolve(result)))
    if (latencies) {
      instance.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => {
        latencies.push(ms)
      })
    }
  })
}

/** The value below which `p` percent of the sorted samples fall (nearest rank), two decimals. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return Number(sorted[rank]!.toFixed(2))
}

/** A warm-up round, then the measured round, with the same body and connections. */
export async function load(options: LoadOptions): Promise<LoadResult> {
  const base: autocannon.Options = {
    url: options.url,
    method: 'POST',
    connections: options.connections,
    headers: { 'content-type': 'application/json', ...options.headers },
    ...(options.body !== undefined ? { body: options.body } : {}),
  }
  if (options.warmupSeconds > 0) await run({ ...base, duration: options.warmupSeconds })
  const latencies: number[] = []
  const cpu0 = cpuMicros(options.pid)
  const result = await run({ ...base, duration: options.seconds }, latencies)
  const cpu = cpuMicros(options.pid) - cpu0
  latencies.sort((a, b) => a - b)
  return {
    rps: result.requests.average,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    cpuPerRequest: result.requests.total > 0 ? cpu / result.requests.total : 0,
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
