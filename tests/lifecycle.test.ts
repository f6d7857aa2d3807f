import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { EXIT } from '../daemon/src/cli/io.ts'
import { startChild, waitExit } from './support/child.ts'
import { SseReader } from './support/sse.ts'

// The production start command documented in docs/getting-started.md: the daemon is this process.
const BIN = join(import.meta.dirname, '..', 'daemon/bin/arw.js')
const TOKEN = 'lifecycle-test-token-0123456789'
const dirs: string[] = []
const procs: ChildProcess[] = []

afterAll(() => {
  for (const p of procs) p.kill('SIGKILL')
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function listens(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

function run(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string; killed: boolean }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ARW_PORT: '0', ...env },
      stdio: ['pipe', 'ignore', 'pipe'],
    })
    procs.push(c)
    let stderr = ''
    c.stderr!.on('data', (d) => {
      stderr += d
    })
    // A daemon that hangs is cut off: the test then fails on the exit code, not on its timeout.
    let killed = false
    const timer = setTimeout(() => {
      killed = true
      c.kill('SIGKILL')
    }, 15_000)
    c.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stderr, killed })
    })
  })
}

describe('daemon lifecycle', () => {
  it('fails fast with exit 4 on a state directory that cannot be created (/proc/nope), for start and mcp', async () => {
    for (const command of ['start', 'mcp']) {
      const result = await run([command], { ARW_STATE_DIR: '/proc/nope/state', ARW_ADMIN_TOKEN: TOKEN })
      expect(result.killed).toBe(false)
      expect(result.code).toBe(EXIT.config)
      expect(result.stderr).toContain('ARW_STATE_DIR /proc/nope/state is not a usable directory')
    }
  }, 90_000)

  it('stops on SIGTERM to the documented start command: no listener left, a stopped line, daemon.stopped journaled', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'arw-life-'))
    dirs.push(dir)
    const env = { ...process.env, ARW_STATE_DIR: dir, ARW_PORT: '0', ARW_ADMIN_TOKEN: TOKEN }
    const proc = spawn(process.execPath, [BIN, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    procs.push(proc)
    let stderr = ''
    proc.stderr!.on('data', (c) => {
      stderr += c
    })
    proc.stdout!.resume()
    for (let i = 0; i < 200 && !/listening on (\S+)/.test(stderr); i++)
      await new Promise((r) => setTimeout(r, 100))
    const url = /listening on (\S+)/.exec(stderr)![1]!
    const port = Number(new URL(url).port)
    // Long-lived streams must not hold the stop up: the admin SSE and an MCP session's stream.
    const events = await SseReader.open(`${url}/admin/events`, { 'x-arw-admin': TOKEN })
    const init = await fetch(`${url}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TOKEN}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      }),
    })
    const session = init.headers.get('mcp-session-id')!
    const mcpStream = await fetch(`${url}/mcp`, {
      headers: {
        authorization: `Bearer ${TOKEN}`,
        accept: 'text/event-stream',
        'mcp-session-id': session,
        'mcp-protocol-version': '2025-11-25',
      },
    })
    expect(mcpStream.status).toBe(200)

    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))
    proc.kill('SIGTERM')
    expect(await exited).toBe(EXIT.ok)
    expect(await listens(port)).toBe(false)
    expect(stderr).toContain('arw: daemon stopped')
    events.close()
    await mcpStream.body?.cancel().catch(() => {})

    // The journal's last record of that run is its stop.
    const again = await startChild({ ARW_STATE_DIR: dir, ARW_ADMIN_TOKEN: TOKEN })
    procs.push(again.proc)
    const replay = await SseReader.open(`${again.url}/admin/events?after=0`, { 'x-arw-admin': TOKEN })
    await replay.until(() => replay.events.filter((e) => e.data.kind === 'daemon.started').length >= 2)
    replay.close()
    const kinds = replay.events.map((e) => e.data.kind as string)
    expect(kinds.slice(0, 3)).toEqual(['daemon.started', 'daemon.stopped', 'daemon.started'])
    again.proc.kill('SIGTERM')
    await waitExit(again.proc)
  }, 90_000)
})
