import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

// A smoke run of `npm run bench`: tiny rounds, few connections. It checks that every target
// answers the bench request correctly (the runner refuses to measure one that does not) and that
// the ratio lines are printed in the agreed form; it asserts nothing about speed.
describe('npm run bench (smoke)', () => {
  it('measures every target of every group and prints the ratio lines', () => {
    const result = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, '../bench/src/run.ts')],
      {
        cwd: join(import.meta.dirname, '..'),
        env: {
          ...process.env,
          ARW_BENCH_SECONDS: '1',
          ARW_BENCH_CONNECTIONS: '2',
          ARW_BENCH_SUBSCRIBERS: '20',
        },
        encoding: 'utf8',
        timeout: 240_000,
      },
    )
    expect(result.status, result.stderr).toBe(0)
    const out = result.stdout
    for (const name of [
      'invoke/raw',
      'invoke/fastify',
      'invoke-fsync/raw',
      'sse/raw',
      'mcp/sdk-session',
      'mcp/sdk-stateless',
      'mcp/fastmcp',
    ]) {
      expect(out, name).toMatch(new RegExp(`^ratio ${name} \\d+\\.\\d\\d$`, 'm'))
    }
    expect(out).toMatch(/^p99 invoke \d+/m)
    expect(out).not.toContain('NOT OK')
  }, 300_000)

  it('refuses an unknown group with exit status 2', () => {
    const result = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, '../bench/src/run.ts'), 'nope'],
      {
        cwd: join(import.meta.dirname, '..'),
        encoding: 'utf8',
      },
    )
    expect(result.status).toBe(2)
    expect(result.stderr).toContain('unknown bench group nope')
  })
})
