import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { interleave } from '../bench/src/rounds.ts'
import { spread } from '../bench/src/stats.ts'

// Smoke runs of `npm run bench`: tiny rounds, few connections. They check that every target
// answers the bench request correctly (the runner refuses to measure one that does not), that the
// ratio lines are printed in the agreed form, that rounds are interleaved and summarized, and
// that the profile command writes a profile and reads it back; they assert nothing about speed.
const ROOT = join(import.meta.dirname, '..')
const SMOKE = { ARW_BENCH_SECONDS: '1', ARW_BENCH_CONNECTIONS: '2', ARW_BENCH_SUBSCRIBERS: '20' }

function bench(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/src/run.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 240_000,
  })
}

/** The parts of `bench/results/<time>.json` these tests read. */
interface Results {
  rounds: number
  machine: { node: string }
  ratios: Record<string, number | null>
  figures: { sse?: Record<string, { deliveriesPerSecond: number }[]> }
}

function resultsOf(out: string): Results {
  const file = /^results: (.+)$/m.exec(out)?.[1]
  expect(file, out).toBeDefined()
  return JSON.parse(readFileSync(file!, 'utf8'))
}

describe('npm run bench (smoke)', () => {
  // Every group is measured by one of the first two tests: sse (the cheapest) in two rounds, the
  // others in one, to keep CI short.
  it('measures every target of the invoke, mcp, federation and startup groups and prints the ratio lines and the machine', () => {
    const result = bench(['invoke', 'mcp', 'federation', 'startup', '--rounds', '1'], SMOKE)
    expect(result.status, result.stderr).toBe(0)
    const out = result.stdout
    for (const name of [
      'invoke/raw',
      'invoke/fastify',
      'invoke-fsync/raw',
      'invoke-pg/invoke',
      'cpu fastify/invoke',
      'p99 invoke/fastify',
      'mcp/sdk-session',
      'mcp/sdk-stateless',
      'mcp/fastmcp',
      'mcp/invoke',
      'cpu invoke/mcp',
      'federated/direct',
      'federated-invoke/direct',
      'startup/fastify',
      'startup-http/fastify',
      'startup-mcp/fastify',
      'cpu startup/fastify',
    ]) {
      expect(out, name).toMatch(new RegExp(`^ratio ${name} \\d+\\.\\d\\d$`, 'm'))
    }
    expect(out).toMatch(/^p99 invoke [\d.]+ ms, fastify [\d.]+ ms/m)
    expect(out).toMatch(/^added latency, daemon \/mcp: p50 -?[\d.]+ ms, p99 -?[\d.]+ ms/m)
    expect(out).toMatch(/^daemon cpu per call, \/mcp: federated \d+ µs, built-in \d+ µs/m)
    expect(out).toContain(`node ${process.version}`)
    expect(out).toMatch(/\d+ cores/)
    expect(out).toMatch(/^# load average before: [\d.]+ [\d.]+ [\d.]+/m)
    expect(out).toMatch(/^# load average after: [\d.]+ [\d.]+ [\d.]+/m)
    // Both ways of starting the daemon answered (the startup group throws otherwise).
    expect(out).toMatch(/^arw start \/healthz +\d+/m)
    expect(out).toMatch(/^arw mcp initialize +\d+/m)
    expect(out).not.toContain('NOT OK')
    const results = resultsOf(out)
    expect(results.rounds).toBe(1)
    expect(results.machine.node).toBe(process.version)
  }, 300_000)

  it('runs the sse targets in the rounds asked for, interleaved, and takes the ratio of their medians', () => {
    const result = bench(['sse', '--rounds', '2'], SMOKE)
    expect(result.status, result.stderr).toBe(0)
    // Interleaved: raw, daemon, raw, daemon.
    const order = [...result.stderr.matchAll(/^bench: round (\d)\/2: (.+)$/gm)].map((m) => `${m[1]} ${m[2]}`)
    expect(order).toEqual([
      '1 raw broadcast',
      '1 daemon /admin/events',
      '2 raw broadcast',
      '2 daemon /admin/events',
    ])
    expect(result.stdout).toMatch(/^ratio sse\/raw \d+\.\d\d\n {2}per round: \d+\.\d\d \d+\.\d\d$/m)
    expect(result.stdout).not.toContain('NOT OK')
    const results = resultsOf(result.stdout)
    expect(results.rounds).toBe(2)
    const rounds = (name: string) => results.figures.sse?.[name] ?? []
    expect(rounds('raw broadcast')).toHaveLength(2)
    expect(rounds('daemon /admin/events')).toHaveLength(2)
    const median = (name: string) => {
      const [a, b] = rounds(name).map((r) => r.deliveriesPerSecond)
      return (a! + b!) / 2
    }
    expect(results['ratios']['sse/raw']).toBeCloseTo(
      median('daemon /admin/events') / median('raw broadcast'),
      2,
    )
  }, 300_000)

  it('profiles the daemon under load and lists its top self-time functions', () => {
    const result = bench(['profile', 'invoke'], SMOKE)
    expect(result.status, result.stderr).toBe(0)
    const dir = /^profile: (.+)$/m.exec(result.stdout)?.[1]
    try {
      expect(dir, result.stdout).toBeDefined()
      expect(readdirSync(dir!).some((f) => /^CPU\..*\.0\.\d+\.cpuprofile$/.test(f))).toBe(true)
      const tables = result.stdout.split('### top self time by function')[1] ?? ''
      // The daemon's own code is among the functions and files the measured round spent its time in.
      expect(tables).toMatch(/(daemon\/src|crates-ts)\/\S+\.ts/)
      // Each line says its self time per request too, the figure that compares across profiles.
      expect(result.stdout).toMatch(/^busy time per request: \d+\.\d\d µs$/m)
      expect(tables).toMatch(/^\s+\d+\.\d\s+\d+\.\d\s+\d+\.\d\d\s+\S/m)
    } finally {
      if (dir && existsSync(dir)) rmSync(dir, { recursive: true, force: true })
    }
  }, 300_000)

  it('refuses an unknown group, a bad --rounds and an unknown profile with exit status 2', () => {
    const unknown = bench(['nope'])
    expect(unknown.status).toBe(2)
    expect(unknown.stderr).toContain('unknown bench group nope')
    for (const rounds of ['0', 'x']) {
      const bad = bench(['invoke', '--rounds', rounds])
      expect(bad.status, rounds).toBe(2)
      expect(bad.stderr).toContain(`--rounds ${rounds}: expected a whole number`)
    }
    const profile = bench(['profile', 'sse'])
    expect(profile.status).toBe(2)
    expect(profile.stderr).toContain('cannot profile sse')
  })
})

describe('bench rounds', () => {
  it('runs every target once per round, in the same order each round', async () => {
    const order: string[] = []
    const target = (name: string) => ({ name, run: async () => order.push(name) })
    const results = await interleave(3, [target('raw'), target('fastify'), target('daemon')])
    expect(order).toEqual([
      'raw',
      'fastify',
      'daemon',
      'raw',
      'fastify',
      'daemon',
      'raw',
      'fastify',
      'daemon',
    ])
    expect(results.get('daemon')).toEqual([3, 6, 9])
  })

  it('summarizes rounds by their median and range, an even count by the mean of the middle two', () => {
    expect(spread([30, 10, 20])).toEqual({ median: 20, min: 10, max: 30 })
    expect(spread([40, 10, 30, 20])).toEqual({ median: 25, min: 10, max: 40 })
    expect(spread([7])).toEqual({ median: 7, min: 7, max: 7 })
  })
})
