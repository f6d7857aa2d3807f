import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_URL, daemonUrl, EXIT } from '../daemon/src/cli/io.ts'
import { HELP, runCli } from '../daemon/src/cli/main.ts'
import { type TestDaemon, testDaemon } from '../daemon/src/testing/harness.ts'
import { runArw } from './support/cli.ts'

const ROOT = join(import.meta.dirname, '..')
const BIN = join(ROOT, 'daemon/bin/arw.js')

let d: TestDaemon
let base: string
beforeAll(async () => {
  d = await testDaemon()
  base = await d.listen()
})
afterAll(() => d.close())

const arw = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  runArw(args, { ARW_URL: base, ARW_ADMIN_TOKEN: d.admin['x-arw-admin'], ...env })

describe('arw (in-process)', () => {
  it('lists tools as a table and as JSON', async () => {
    const table = await arw(['tools'])
    expect(table.code).toBe(EXIT.ok)
    expect(table.out).toMatch(/^ID\s+STABILITY\s+RISK\s+TITLE/)
    expect(table.out).toContain('demo.echo@1.0.0')
    const json = await arw(['tools', '--json'])
    expect(JSON.parse(json.out).some((t: { id: string }) => t.id === 'memory.probe@1.0.0')).toBe(true)
  })

  it('invokes a tool and prints the answer as JSON (exit 0)', async () => {
    const r = await arw(['invoke', 'demo.echo', '--input', '{"text":"hi"}'])
    expect(r.code).toBe(EXIT.ok)
    expect(JSON.parse(r.out)).toMatchObject({ output: { text: 'hi' }, tool: 'demo.echo@1.0.0' })
    // Journaled as a call from the command line, not a bare HTTP call.
    const [record] = await d.app.arw.journal.byTrace(JSON.parse(r.out).trace_id)
    expect(record?.payload).toMatchObject({ surface: 'cli' })
    const only = await arw(['invoke', 'demo.echo@1.0.0', '-i', '{"text":"x"}', '--output-only'])
    expect(JSON.parse(only.out)).toEqual({ text: 'x' })
  })

  it('prints the problem on stderr and exits 1 when the daemon refuses the call', async () => {
    const r = await arw(['invoke', 'demo.echo', '--input', '{"text":5}'])
    expect(r.code).toBe(EXIT.problem)
    expect(r.out).toBe('')
    expect(JSON.parse(r.err)).toMatchObject({ code: 'validation_failed', status: 400 })
    const unknown = await arw(['invoke', 'no.such.tool'])
    expect(unknown.code).toBe(EXIT.problem)
    expect(JSON.parse(unknown.err).code).toBe('not_found')
    const denied = await arw(['tools', '--token', 'wrong'])
    expect(denied.code).toBe(EXIT.problem)
    expect(JSON.parse(denied.err).code).toBe('unauthorized')
  })

  it('exits 2 on usage errors, with a hint', async () => {
    for (const args of [
      ['invoke'],
      ['invoke', 'demo.echo', '--input', '{not json'],
      ['frobnicate'],
      ['tools', '--no-such-flag'],
      ['events'],
      ['spec', 'nope'],
    ]) {
      const r = await arw(args)
      expect(r.code, args.join(' ')).toBe(EXIT.usage)
      expect(r.err).toMatch(/^arw: /)
    }
    expect((await arw([])).code).toBe(EXIT.usage)
  })

  it('exits 3 when the daemon cannot be reached', async () => {
    const r = await arw(['tools'], { ARW_URL: 'http://127.0.0.1:1023' })
    expect(r.code).toBe(EXIT.unreachable)
    expect(r.err).toContain('cannot reach the daemon')
  })

  it('prints the last N events and exits', async () => {
    for (let i = 0; i < 3; i++) await arw(['invoke', 'demo.echo', '--input', `{"text":"e${i}"}`])
    const head = d.app.arw.journal.head
    const r = await arw(['events', '--replay', '2'])
    expect(r.code).toBe(EXIT.ok)
    const lines = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(lines.map((e) => e.id)).toEqual([head - 1, head])
    expect(lines[1].payload.input).toEqual({ text: 'e2' })
    const after = await arw(['events', '--after', String(head - 1), '--prefix', 'tool.'])
    expect(
      after.out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).id),
    ).toEqual([head])
  })

  it('prints spec documents from the daemon and offline, identically', async () => {
    const live = await arw(['spec', 'asyncapi'])
    expect(live.out).toMatch(/^asyncapi: 3\.0/m)
    const offline = await arw(['spec', 'mcp', '--offline'], { ARW_URL: 'http://127.0.0.1:1023' })
    expect(offline.code).toBe(EXIT.ok)
    expect(JSON.parse(offline.out)).toEqual(JSON.parse((await arw(['spec', 'mcp'])).out))
  })

  it('has --help for every command', async () => {
    expect((await arw(['--help'])).out).toBe(HELP)
    for (const command of ['start', 'tools', 'invoke', 'events', 'spec', 'mcp']) {
      const r = await arw([command, '--help'])
      expect(r.code, command).toBe(EXIT.ok)
      expect(r.out, command).toMatch(new RegExp(`^Usage: arw ${command}`))
    }
    expect((await arw(['start', '--help'])).out).toContain('ARW_STATE_DIR')
  })
})

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

describe('the arw executable', () => {
  it('starts the daemon, serves through the bin shim, and stops cleanly on SIGTERM', async () => {
    const state = mkdtempSync(join(tmpdir(), 'arw-cli-'))
    const port = await freePort()
    const env = {
      ...process.env,
      ARW_STATE_DIR: state,
      ARW_PORT: String(port),
      ARW_ADMIN_TOKEN: 'cli-secret-token-0123',
    }
    const child = spawn(process.execPath, [BIN, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (c) => {
      stderr += c
    })
    try {
      for (let i = 0; i < 150 && !stderr.includes('listening on'); i++)
        await new Promise((r) => setTimeout(r, 100))
      expect(stderr).toContain(`listening on http://127.0.0.1:${port}`)
      const url = `http://127.0.0.1:${port}`
      const invoked = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const c = spawn(process.execPath, [BIN, 'invoke', 'demo.echo', '--input', '{"text":"via bin"}'], {
          env: { ...env, ARW_URL: url },
        })
        let out = ''
        c.stdout.on('data', (d) => {
          out += d
        })
        c.on('exit', (code) => resolve({ code, out }))
      })
      expect(invoked.code).toBe(0)
      expect(JSON.parse(invoked.out).output).toEqual({ text: 'via bin' })
      const exited = new Promise<string>((resolve) =>
        child.on('exit', (code, signal) => resolve(`code ${code}, signal ${signal}`)),
      )
      child.kill('SIGTERM')
      // A crash on the way out (a signal instead of a code) shows with what the daemon printed.
      expect(await exited, stderr.slice(-2000)).toBe('code 0, signal null')
    } finally {
      child.kill('SIGKILL')
      rmSync(state, { recursive: true, force: true })
    }
  })

  it('exits 4 when the configuration is invalid', async () => {
    const code = await new Promise<number | null>((resolve) => {
      const c = spawn(process.execPath, [BIN, 'start'], {
        env: { ...process.env, ARW_PORT: 'not-a-port' },
        stdio: 'ignore',
      })
      c.on('exit', resolve)
    })
    expect(code).toBe(EXIT.config)
  })

  it('stops quietly with status 0 when its reader closes the pipe early', async () => {
    // The reader closes before reading anything, as `head` does once it has its lines: the spec's
    // writes hit a closed pipe.
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, [BIN, 'spec', 'openapi', '--offline'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let stderr = ''
      c.stderr.on('data', (d) => {
        stderr += d
      })
      c.stdout.destroy()
      c.on('exit', (code) => resolve({ code, stderr }))
    })
    expect(result.stderr).not.toContain('EPIPE')
    expect(result.code).toBe(0)
  })
})

describe('where the CLI finds the daemon, and how it authenticates', () => {
  it('uses --url, else ARW_URL, else BASE (as the README tour exports it)', async () => {
    const viaBase = await arw(['tools', '--json'], { ARW_URL: '', BASE: base })
    expect(viaBase.code).toBe(EXIT.ok)
    expect(JSON.parse(viaBase.out).length).toBeGreaterThan(0)
    const arwUrlWins = await arw(['tools'], { ARW_URL: 'http://127.0.0.1:1023', BASE: base })
    expect(arwUrlWins.code).toBe(EXIT.unreachable)
    const flagWins = await arw(['tools', '--url', base], { ARW_URL: 'http://127.0.0.1:1023' })
    expect(flagWins.code).toBe(EXIT.ok)
  })

  it('a BASE that is not an http(s) URL is not taken for the daemon', () => {
    expect(daemonUrl(undefined, { BASE: '/opt/base' })).toBe(DEFAULT_URL)
    expect(daemonUrl(undefined, { BASE: 'http://10.0.0.1:9000' })).toBe('http://10.0.0.1:9000')
  })

  it('an address that is not an http(s) URL is a usage error (exit 2), from --url or ARW_URL', async () => {
    for (const [args, env] of [
      [['tools', '--url', 'notaurl'], {}],
      [['invoke', 'demo.echo', '--url', 'ftp://127.0.0.1'], {}],
      [['events', '--follow'], { ARW_URL: 'notaurl' }],
      [['spec'], { ARW_URL: '127.0.0.1:8090' }],
    ] as const) {
      const r = await arw([...args], env)
      expect(r.code, args.join(' ')).toBe(EXIT.usage)
      expect(r.err).toMatch(/must be an http:\/\/ or https:\/\/ URL/)
    }
  })

  it('--api-key (and ARW_API_KEY) is sent as Authorization: Bearer', async () => {
    const token = d.admin['x-arw-admin']!
    // Until the identity area issues API keys, the daemon takes its admin token as a bearer.
    const flag = await arw(['tools', '--api-key', token], { ARW_ADMIN_TOKEN: '' })
    expect(flag.code).toBe(EXIT.ok)
    const env = await arw(['tools'], { ARW_ADMIN_TOKEN: '', ARW_API_KEY: token })
    expect(env.code).toBe(EXIT.ok)
    const wrong = await arw(['tools', '--api-key', 'wrong'], { ARW_ADMIN_TOKEN: '' })
    expect(wrong.code).toBe(EXIT.problem)
    expect(JSON.parse(wrong.err).code).toBe('unauthorized')
  })
})

describe('arw events --follow against a daemon that is down', () => {
  it('says so at once, retries with backoff, streams once the daemon is up, and exits 0 when stopped', async () => {
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const controller = new AbortController()
    let out = ''
    let err = ''
    const following = runCli(['events', '--follow', '--url', url], {
      out: (t) => {
        out += t
      },
      err: (t) => {
        err += t
      },
      env: { ARW_ADMIN_TOKEN: 'follow-secret' },
      signal: controller.signal,
    })
    const later = await testDaemon({ token: 'follow-secret' })
    try {
      await until(
        () => /cannot reach the daemon at .*; trying again in 0\.25 s/.test(err),
        'the first report',
      )
      await until(() => err.includes('trying again in 0.5 s'), 'a longer second wait')
      await later.app.listen({ host: '127.0.0.1', port })
      await until(() => err.includes(`connected to ${url}`), 'the reconnection')
      await later.app.inject({
        method: 'POST',
        url: '/tools/demo.echo:invoke',
        headers: { ...later.admin, 'content-type': 'application/json' },
        payload: { input: { text: 'after the outage' } },
      })
      await until(() => out.includes('after the outage'), 'the live event')
      controller.abort()
      expect(await following).toBe(EXIT.ok)
    } finally {
      controller.abort()
      await later.close()
    }
  })

  it('Ctrl-C while the daemon is unreachable exits 0 (the executable, SIGINT)', async () => {
    const port = await freePort()
    const child = spawn(process.execPath, [BIN, 'events', '--follow', '--url', `http://127.0.0.1:${port}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (c) => {
      stderr += c
    })
    try {
      await until(() => stderr.includes('cannot reach the daemon'), 'the report', 15_000)
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
      child.kill('SIGINT')
      expect(await exited).toBe(EXIT.ok)
    } finally {
      child.kill('SIGKILL')
    }
  })
})

async function until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
