import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Store } from '@arw/store'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { CLIENT_KINDS, connect, type Target } from './support/clients.ts'

const CHILD = fileURLToPath(new URL('./support/stdio-child.ts', import.meta.url))
const dirs: string[] = []

function target(): { target: Target; stateDir: string } {
  const stateDir = mkdtempSync(join(tmpdir(), 'arw-mcp-stdio-'))
  dirs.push(stateDir)
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v
  Object.assign(env, { ARW_STATE_DIR: stateDir, ARW_LOG_LEVEL: 'warn' })
  return { target: { command: process.execPath, args: ['--import', 'tsx', CHILD], env }, stateDir }
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

async function until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe.each(CLIENT_KINDS)('arw mcp (stdio) with the %s client', (kind) => {
  it('lists, calls, reports errors, progress, cancellation and list changes; calls land in the journal', async () => {
    const { target: t, stateDir } = target()
    const client = await connect(kind, t)
    const tag = `stdio-cancel-${kind}`
    try {
      // The 1.x stdio transport does not expose the negotiated revision.
      if (kind !== 'sdk-1.x')
        expect(client.protocolVersion()).toBe(kind === 'sdk-v2@2026-07-28' ? '2026-07-28' : '2025-11-25')
      const { tools } = await client.listTools()
      expect(tools.map((x) => x.name)).toContain('demo.echo')

      const ok = await client.callTool('demo.echo', { text: 'over stdio' })
      expect(ok.structuredContent).toEqual({ text: 'over stdio' })

      const failed = await client.callTool('demo.echo', {})
      expect(failed.isError).toBe(true)
      expect(JSON.parse(failed.content[0]!['text'] as string)).toMatchObject({
        code: 'validation_failed',
        status: 400,
      })

      const progress: number[] = []
      await client.callTool(
        'test.wait',
        { tag: 'p', ticks: 2 },
        { onprogress: (p) => progress.push(p.progress) },
      )
      // Both notifications precede the result on the wire; a client may run its progress callback
      // a tick after it resolves the call, so wait for it rather than race it.
      await vi.waitFor(() => expect(progress).toEqual([1, 2]))

      const controller = new AbortController()
      const call = client.callTool('test.wait', { tag }, { signal: controller.signal })
      await new Promise((r) => setTimeout(r, 150))
      controller.abort()
      await expect(call).rejects.toThrow()

      let changed = 0
      await client.onToolsChanged(() => changed++)
      process.kill(client.pid()!, 'SIGUSR2')
      await until(() => changed > 0, 'tools/list_changed')
      expect((await client.listTools()).tools.map((x) => x.name)).toContain('late.stdio1')
    } finally {
      await client.close()
    }
    // The child has exited; its journal shows the calls exactly like HTTP calls, surface mcp.
    await new Promise((r) => setTimeout(r, 200))
    const store = await Store.open({ location: stateDir })
    try {
      const events = (await store.journal.read(0, 10_000)).filter((e) => e.kind === 'tool.ran')
      const payloads = events.map(
        (e) => e.payload as { tool: string; outcome: string; surface: string; input?: { tag?: string } },
      )
      expect(payloads).toContainEqual(
        expect.objectContaining({ tool: 'demo.echo@1.0.0', outcome: 'ok', surface: 'mcp' }),
      )
      expect(payloads).toContainEqual(
        expect.objectContaining({ tool: 'demo.echo@1.0.0', outcome: 'error', surface: 'mcp' }),
      )
      expect(payloads).toContainEqual(
        expect.objectContaining({
          tool: 'test.wait@1.0.0',
          outcome: 'cancelled',
          surface: 'mcp',
          input: { tag },
        }),
      )
    } finally {
      await store.close()
    }
  })
})
