import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EXIT } from '../../daemon/src/cli/io.ts'
import { TEST_TOKEN } from '../../daemon/src/testing/harness.ts'
import { runArw } from '../support/cli.ts'
import { StateDir, WEATHER } from './support.ts'

let state: StateDir
let app: FastifyInstance
let base: string

beforeAll(async () => {
  state = new StateDir()
  app = await state.start()
  base = await app.listen({ host: '127.0.0.1', port: 0 })
})
afterAll(async () => {
  await app.close()
  state.remove()
})

const arw = (...args: string[]) => runArw(args, { ARW_URL: base, ARW_ADMIN_TOKEN: TEST_TOKEN })

describe('arw conn and arw link', () => {
  it('create a connection, link it, test it, toggle it, and remove the link', async () => {
    const dry = await arw(
      'conn',
      'add',
      'local',
      '--target',
      JSON.stringify({ module: WEATHER }),
      '--dry-run',
      '--service',
      'w',
    )
    expect(dry.code).toBe(EXIT.ok)
    expect(dry.out).toContain('would import w.forecast')
    expect(dry.out).toMatch(/would refuse broken: malformed schema/)
    const add = await arw(
      'conn',
      'add',
      'local',
      '--target',
      JSON.stringify({ module: WEATHER }),
      '--id',
      'cli',
      '--concurrency',
      '2',
      '--queue',
      '1',
      '--tag',
      'x',
      '--tag',
      'y',
    )
    expect(add).toMatchObject({ code: EXIT.ok, out: 'cli disabled\n' })
    const listed = await arw('conn', 'ls', '--json')
    expect(JSON.parse(listed.out).connections[0]).toMatchObject({
      id: 'cli',
      tags: ['x', 'y'],
      concurrency: { max: 2, queue: 1 },
    })
    const link = await arw('link', 'add', 'cli', 'w', '--id', 'lw', '--enable')
    expect(link.code).toBe(EXIT.ok)
    expect(link.out).toMatch(/^lw up\n/)
    expect(link.out).toContain('  w.forecast@1.0.0\n')
    expect((await arw('link', 'ls')).out).toMatch(/lw\s+cli\s+w\s+up\s+ok\s+\d+/)
    const test = await arw('conn', 'test', 'cli')
    expect(test.code).toBe(EXIT.ok)
    expect(test.out).toMatch(/^ok healthy [\d.]+ ms trace [0-9a-f]{32}\n$/)
    expect((await arw('conn', 'toggle', 'cli', '--off')).out).toBe('cli disabled\n')
    expect((await arw('conn', 'toggle', 'cli')).out).toBe('cli healthy\n')
    expect((await arw('link', 'rm', 'lw')).out).toMatch(/^removed lw \(\d+ tools\)\n$/)
  })

  it('answer usage errors with exit 2 and problems with exit 1', async () => {
    expect((await arw('conn')).code).toBe(EXIT.usage)
    expect((await arw('conn', 'frob')).code).toBe(EXIT.usage)
    expect((await arw('conn', 'add', 'local')).code).toBe(EXIT.usage)
    expect((await arw('conn', 'add', 'local', '--target', '{nope')).code).toBe(EXIT.usage)
    expect((await arw('conn', 'add', 'local', '--target', '{}', '--queue', '2')).code).toBe(EXIT.usage)
    expect((await arw('conn', 'toggle', 'cli', '--on', '--off')).code).toBe(EXIT.usage)
    expect((await arw('link', 'add', 'only-one')).code).toBe(EXIT.usage)
    const missing = await arw('conn', 'test', 'nope')
    expect(missing.code).toBe(EXIT.problem)
    expect(JSON.parse(missing.err)).toMatchObject({ code: 'not_found' })
  })
})
