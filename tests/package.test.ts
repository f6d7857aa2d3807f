import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/**
 * The package as a user gets it: `npm pack` (which runs the build), `npm install -g` of the tarball
 * into a temporary prefix, and the installed `arw` run from another directory; and the README's
 * MCP client snippets launched the way a client launches them (from elsewhere, with only PATH and
 * HOME in the environment).
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version
const run = promisify(execFile)

let work: string
let prefix: string
let home: string

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'arw-package-'))
  prefix = join(work, 'prefix')
  home = join(work, 'home')
  await run('npm', ['pack', '--pack-destination', work], { cwd: ROOT, maxBuffer: 16 << 20 })
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'))
  if (!tarball) throw new Error('npm pack wrote no tarball')
  // --prefer-offline: the dependencies come from npm's cache when `npm ci` already fetched them.
  await run(
    'npm',
    ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', join(work, tarball)],
    { cwd: work, maxBuffer: 16 << 20 },
  )
}, 240_000)

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true })
})

/** The environment an MCP client or a login shell gives a command: a PATH and a HOME, nothing else. */
function clientEnv(...bins: string[]): Record<string, string> {
  return { PATH: [...bins, dirname(process.execPath), '/usr/bin', '/bin'].join(':'), HOME: home }
}

/** The README's JSON blocks that configure an MCP client over stdio. */
function readmeStdioSnippets(): Array<{ command: string; args: string[] }> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const out: Array<{ command: string; args: string[] }> = []
  for (const m of readme.matchAll(/```json\n([\s\S]*?)```/g)) {
    const block = JSON.parse(m[1]!) as { mcpServers?: Record<string, { command: string; args: string[] }> }
    if (block.mcpServers) out.push(...Object.values(block.mcpServers))
  }
  return out
}

function exited(proc: ChildProcess): Promise<number | null> {
  if (proc.exitCode !== null) return Promise.resolve(proc.exitCode)
  return new Promise((resolve) => proc.once('exit', (code) => resolve(code)))
}

/** Connects as an MCP client would from its config entry: spawned from `cwd` with `env` only. */
async function connectStdio(entry: { command: string; args: string[] }, env: Record<string, string>) {
  const transport = new StdioClientTransport({ ...entry, env, cwd: tmpdir(), stderr: 'pipe' })
  let stderr = ''
  transport.stderr?.on('data', (c) => {
    stderr += c
  })
  const client = new Client({ name: 'arw-package-test', version: '1.0.0' }, { capabilities: {} })
  await client.connect(transport)
  return { client, stderr: () => stderr }
}

describe('the packed package, installed with npm install -g', () => {
  it('puts a working arw on the PATH: --version', async () => {
    const { stdout } = await run('arw', ['--version'], { cwd: tmpdir(), env: clientEnv(join(prefix, 'bin')) })
    expect(stdout.trim()).toBe(VERSION)
  })

  it('arw start answers /healthz and serves the debug UI from the package, and stops on SIGTERM', async () => {
    const proc = spawn('arw', ['start'], {
      cwd: tmpdir(),
      env: {
        ...clientEnv(join(prefix, 'bin')),
        ...{ ARW_HOST: '127.0.0.1', ARW_PORT: '0', ARW_LOG_LEVEL: 'warn', ARW_DEBUG: '1' },
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    try {
      let stderr = ''
      const url = await new Promise<string>((resolve, reject) => {
        proc.stderr!.on('data', (c) => {
          stderr += c
          const m = /daemon listening on (\S+)/.exec(stderr)
          if (m) resolve(m[1]!)
        })
        proc.once('exit', (code) => reject(new Error(`arw start exited with ${code}:\n${stderr}`)))
      })
      const health = await fetch(`${url}/healthz`)
      expect(health.status).toBe(200)
      expect(await health.json()).toMatchObject({ status: 'ok', version: VERSION })
      const ui = await fetch(`${url}/debug`)
      expect(ui.status).toBe(200)
      expect(await ui.text()).toContain('<script')
      // The state went where a user's would: HOME/.arw, not the working directory.
      expect(existsSync(join(home, '.arw'))).toBe(true)
      proc.kill('SIGTERM')
      expect(await exited(proc)).toBe(0)
    } finally {
      proc.kill('SIGKILL')
    }
  })

  it('reaches an MCP server through a connection of kind mcp (the SDK it loads on demand is installed with it)', async () => {
    const token = 'package-test-token'
    const proc = spawn('arw', ['start'], {
      cwd: tmpdir(),
      env: {
        ...clientEnv(join(prefix, 'bin')),
        ...{ ARW_HOST: '127.0.0.1', ARW_PORT: '0', ARW_LOG_LEVEL: 'warn', ARW_ADMIN_TOKEN: token },
        ARW_STATE_DIR: join(work, 'state-mcp'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    try {
      let stderr = ''
      const url = await new Promise<string>((resolve, reject) => {
        proc.stderr!.on('data', (c) => {
          stderr += c
          const m = /daemon listening on (\S+)/.exec(stderr)
          if (m) resolve(m[1]!)
        })
        proc.once('exit', (code) => reject(new Error(`arw start exited with ${code}:\n${stderr}`)))
      })
      const post = async (path: string, body: unknown) => {
        const res = await fetch(`${url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-arw-admin': token },
          body: JSON.stringify(body),
        })
        return {
          status: res.status,
          body: (await res.json()) as { link?: { status?: string }; output?: unknown },
        }
      }
      // The reference server of this checkout, started by the installed daemon over stdio.
      const server = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js')
      const target = { command: process.execPath, args: [server, 'stdio'] }
      expect((await post('/connections', { id: 'ref', connectorId: 'mcp', target })).status).toBe(200)
      const linked = await post('/links', { connectionId: 'ref', serviceId: 'ref', autoEnable: true })
      expect(linked.body.link?.status, JSON.stringify(linked.body)).toBe('up')
      const called = await post('/tools/ref.echo:invoke', { input: { message: 'installed' } })
      expect(called.body.output).toEqual({ content: [{ type: 'text', text: 'Echo: installed' }] })
      proc.kill('SIGTERM')
      expect(await exited(proc)).toBe(0)
    } finally {
      proc.kill('SIGKILL')
    }
  })

  it("the README's installed MCP snippet ({command: arw}) lists and calls tools", async () => {
    const entry = readmeStdioSnippets().find((s) => s.command === 'arw')
    expect(entry).toBeDefined()
    const { client } = await connectStdio(entry!, clientEnv(join(prefix, 'bin')))
    try {
      expect(client.getServerVersion()).toMatchObject({ name: 'arw', version: VERSION })
      const { tools } = await client.listTools()
      expect(tools.map((t) => t.name)).toContain('demo.echo')
      const result = await client.callTool({ name: 'demo.echo', arguments: { text: 'installed' } })
      expect(result.structuredContent).toEqual({ text: 'installed' })
    } finally {
      await client.close()
    }
  })
})

describe("the README's MCP snippet for a clone", () => {
  it('node /path/to/clone/daemon/bin/arw.js mcp runs the compiled build from anywhere', async () => {
    const entry = readmeStdioSnippets().find((s) => s.command === 'node')
    expect(entry).toBeDefined()
    const args = entry!.args.map((a) => a.replace('/path/to/clone/', ROOT))
    expect(existsSync(args[0]!)).toBe(true)
    const { client, stderr } = await connectStdio({ command: 'node', args }, clientEnv())
    try {
      const { tools } = await client.listTools()
      expect(tools.map((t) => t.name)).toContain('demo.echo')
      const result = await client.callTool({ name: 'demo.echo', arguments: { text: 'clone' } })
      expect(result.structuredContent).toEqual({ text: 'clone' })
      // What initialize tells agents about failures is where a failure really is.
      expect(client.getInstructions()).toContain('_meta["io.arw/problem"]')
      const failed = await client.callTool({ name: 'demo.echo', arguments: {} })
      expect(failed.isError).toBe(true)
      const problem = JSON.parse((failed.content as Array<{ text: string }>)[0]!.text)
      expect(problem).toMatchObject({ code: 'validation_failed', status: 400 })
      expect(failed._meta?.['io.arw/problem']).toEqual(problem)
      expect(failed.structuredContent).toBeUndefined()
      // It ran daemon/dist, not the TypeScript sources through tsx (seconds per start).
      expect(stderr()).not.toContain('through tsx')
    } finally {
      await client.close()
    }
  })
})
