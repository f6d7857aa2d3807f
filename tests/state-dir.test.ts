import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { EXIT } from '../daemon/src/cli/io.ts'
import { CLIENT_KINDS, connect } from './mcp/support/clients.ts'
import { runArw, Scratch, startChild, waitExit } from './support/child.ts'
import { SseReader } from './support/sse.ts'

const BIN = join(import.meta.dirname, '..', 'daemon/bin/arw.js')
const TOKEN = 'state-dir-test-token-0123456789'
const admin = { 'x-arw-admin': TOKEN }
const scratch = new Scratch('arw-state-')
afterAll(() => scratch.clean())

async function invoke(url: string, text: string): Promise<string | undefined> {
  const res = await fetch(`${url}/tools/demo.echo:invoke`, {
    method: 'POST',
    headers: { ...admin, 'content-type': 'application/json' },
    body: JSON.stringify({ input: { text } }),
  })
  return res.status === 200 ? ((await res.json()) as { trace_id: string }).trace_id : undefined
}

describe('one writer per state directory', () => {
  it('refuses a second arw start on a state directory in use (exit 4), and a killed owner leaves no stale lock', async () => {
    const dir = scratch.dir()
    const env = { ARW_STATE_DIR: dir, ARW_ADMIN_TOKEN: TOKEN }
    const first = await startChild(env)
    scratch.keep(first)
    const second = await runArw(['start'], env)
    expect(second.code).toBe(EXIT.config)
    expect(second.stderr).toContain(`is in use by the daemon listening on ${first.url}`)
    expect(second.stderr).toContain('Exactly one process writes a state directory')
    // The first daemon still answers, and its journal was not touched by the refused one.
    expect(await invoke(first.url, 'still here')).toBeDefined()

    first.proc.kill('SIGKILL')
    await waitExit(first.proc)
    const third = await startChild(env)
    scratch.keep(third)
    expect(await invoke(third.url, 'after a kill')).toBeDefined()
    third.proc.kill('SIGTERM')
    await waitExit(third.proc)
  }, 90_000)

  it('forwards a stdio arw mcp beside a daemon to it: no acknowledged call is lost, and the live SSE shows every record', async () => {
    const dir = scratch.dir()
    const env = { ARW_STATE_DIR: dir, ARW_ADMIN_TOKEN: TOKEN }
    const daemon = await startChild(env)
    scratch.keep(daemon)
    const head = ((await (await fetch(`${daemon.url}/healthz`)).json()) as { journal_head: number })
      .journal_head
    const live = await SseReader.open(`${daemon.url}/admin/events?after=${head}`, admin)

    const childEnv: Record<string, string> = {}
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) childEnv[k] = v
    Object.assign(childEnv, { ARW_STATE_DIR: dir, ARW_LOG_LEVEL: 'warn' })
    // Without ARW_ADMIN_TOKEN: the forwarder authenticates with the daemon's local token.
    delete childEnv['ARW_ADMIN_TOKEN']
    const client = await connect('sdk-1.x', { command: process.execPath, args: [BIN, 'mcp'], env: childEnv })

    const acked: Array<{ text: string; surface: string }> = []
    try {
      const viaMcp = async (w: number) => {
        for (let i = 0; i < 15; i++) {
          const text = `mcp-${w}-${i}`
          const result = await client.callTool('demo.echo', { text })
          expect(result.structuredContent).toEqual({ text })
          acked.push({ text, surface: 'mcp' })
        }
      }
      const viaHttp = async (w: number) => {
        for (let i = 0; i < 15; i++) {
          const text = `http-${w}-${i}`
          if (await invoke(daemon.url, text)) acked.push({ text, surface: 'http' })
        }
      }
      await Promise.all([viaMcp(0), viaMcp(1), viaHttp(0), viaHttp(1)])
    } finally {
      await client.close()
    }
    expect(acked).toHaveLength(60)

    type Ran = { kind: string; payload: { input?: { text?: string }; surface: string } }
    const seen = (frames: Array<{ data: Ran }>) =>
      frames
        .filter((f) => f.data.kind === 'tool.ran')
        .map((f) => ({ text: f.data.payload.input?.text ?? '', surface: f.data.payload.surface }))
    const want = [...acked].sort((a, b) => a.text.localeCompare(b.text))
    // The daemon's live stream shows every call, the forwarded ones included, as they happen.
    await live.until(() => seen(live.events).length >= acked.length, 15_000).catch(() => {})
    live.close()
    expect(seen(live.events).sort((a, b) => a.text.localeCompare(b.text))).toEqual(want)

    // After a restart every acknowledged record is still there, with no hole in the ids.
    daemon.proc.kill('SIGTERM')
    await waitExit(daemon.proc)
    const again = await startChild(env)
    scratch.keep(again)
    const newHead = ((await (await fetch(`${again.url}/healthz`)).json()) as { journal_head: number })
      .journal_head
    const replay = await SseReader.open(`${again.url}/admin/events?after=0`, admin)
    await replay.until(() => (replay.events.at(-1)?.id ?? 0) >= newHead, 15_000)
    replay.close()
    expect(replay.events.map((e) => e.id)).toEqual(Array.from({ length: newHead }, (_, i) => i + 1))
    expect(seen(replay.events).sort((a, b) => a.text.localeCompare(b.text))).toEqual(want)
    expect(replay.events.filter((e) => e.data.kind === 'daemon.started')).toHaveLength(2)
    again.proc.kill('SIGTERM')
    await waitExit(again.proc)
  }, 90_000)

  it('forwards every protocol generation (2025 sessions and 2026-07-28 envelopes) to the daemon', async () => {
    const dir = scratch.dir()
    const daemon = await startChild({ ARW_STATE_DIR: dir, ARW_ADMIN_TOKEN: TOKEN })
    scratch.keep(daemon)
    const live = await SseReader.open(`${daemon.url}/admin/events?after=0`, admin)
    const childEnv: Record<string, string> = {}
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) childEnv[k] = v
    Object.assign(childEnv, { ARW_STATE_DIR: dir, ARW_LOG_LEVEL: 'warn' })
    delete childEnv['ARW_ADMIN_TOKEN']
    for (const kind of CLIENT_KINDS) {
      const client = await connect(kind, { command: process.execPath, args: [BIN, 'mcp'], env: childEnv })
      try {
        expect((await client.listTools()).tools.map((t) => t.name)).toContain('text.stats')
        const ok = await client.callTool('demo.echo', { text: `via ${kind}` })
        expect(ok.structuredContent).toEqual({ text: `via ${kind}` })
        const failed = await client.callTool('demo.echo', {})
        expect(failed.isError).toBe(true)
      } finally {
        await client.close()
      }
    }
    const texts = () =>
      live.events
        .filter((f) => f.data.kind === 'tool.ran' && f.data.payload.surface === 'mcp')
        .map((f) => f.data.payload.input?.text)
    await live.until(() => texts().filter(Boolean).length >= CLIENT_KINDS.length, 15_000)
    live.close()
    expect(texts().filter(Boolean).sort()).toEqual(CLIENT_KINDS.map((k) => `via ${k}`).sort())
    daemon.proc.kill('SIGTERM')
    await waitExit(daemon.proc)
  }, 120_000)

  it('lets one in-process arw mcp hold a state directory: a second one exits 4 saying to run the daemon', async () => {
    const dir = scratch.dir()
    const first = spawn(process.execPath, [BIN, 'mcp'], {
      env: { ...process.env, ARW_STATE_DIR: dir, ARW_LOG_LEVEL: 'warn' },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    try {
      // Once it answers, it holds the lock.
      const answered = new Promise<void>((resolve) => first.stdout!.once('data', () => resolve()))
      first.stdin!.write(
        `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } })}\n`,
      )
      await answered
      const second = await runArw(['mcp'], { ARW_STATE_DIR: dir })
      expect(second.code).toBe(EXIT.config)
      expect(second.stderr).toContain('is in use by an in-process `arw mcp`')
      expect(second.stderr).toContain('run the daemon on it (arw start)')
    } finally {
      first.stdin!.end()
      await new Promise((r) => first.once('exit', r))
    }
  }, 90_000)
})
