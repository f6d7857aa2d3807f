import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defineTool, type ToolSpec } from '@arw/registry'
import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import { buildApp } from '../../../daemon/src/app.ts'
import { type Config, sha256Hex, testConfig } from '../../../daemon/src/config.ts'

export const TOKEN = 'mcp-test-token'

/** Aborts seen by `test.wait` handlers, by the text they were called with. */
export const aborted = new Map<string, unknown>()

/** Waits until cancelled (or 10 s), reporting progress once a tick; records the abort. */
export const waitTool = defineTool({
  name: 'test.wait',
  version: '1.0.0',
  title: 'Wait until cancelled',
  description: 'Test tool: reports progress, then waits until its signal fires.',
  input: Type.Object({ tag: Type.String(), ticks: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 })) }),
  output: Type.Object({ tag: Type.String() }),
  timeoutMs: 10_000,
  handler: async ({ tag, ticks }, ctx) => {
    const total = ticks ?? 0
    for (let i = 1; i <= total; i++) {
      await new Promise((r) => setTimeout(r, 10))
      ctx.progress({ progress: i, total, message: `tick ${i}` })
    }
    if (total > 0) {
      // The 1.x SDK client handles a notification a microtask after reading it but a response at
      // once, and drops progress for a request already answered: a result read in the same chunk
      // as the last progress would lose it. Real tools report progress well before they finish.
      await new Promise((r) => setTimeout(r, 50))
      return { tag }
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 10_000)
      ctx.signal.addEventListener('abort', () => {
        aborted.set(tag, ctx.signal.reason ?? true)
        clearTimeout(timer)
        resolve()
      })
    })
    return { tag }
  },
})

/** A tool added at run time to prove list_changed. */
export function lateTool(name: string): ToolSpec<any, any> {
  return defineTool({
    name,
    version: '1.0.0',
    title: 'Late tool',
    description: 'Registered after clients connected.',
    input: Type.Object({}),
    output: Type.Object({ ok: Type.Boolean() }),
    handler: () => ({ ok: true }),
  })
}

export interface McpDaemon {
  app: FastifyInstance
  url: string
  mcpUrl: URL
  config: Config
  close(): Promise<void>
}

/** A daemon listening on a random loopback port, with the test tools (and optionally a token). */
export async function mcpDaemon(
  options: { token?: string | null; config?: Partial<Config> } = {},
): Promise<McpDaemon> {
  const stateDir = mkdtempSync(join(tmpdir(), 'arw-mcp-'))
  const token = options.token === undefined ? TOKEN : options.token
  const config = testConfig({
    stateDir,
    port: 0,
    host: '127.0.0.1',
    adminTokenSha256: token === null ? undefined : sha256Hex(token),
    debug: token === null,
    ...options.config,
  })
  const app = await buildApp({ config, extraTools: [waitTool] })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  const url = `http://127.0.0.1:${port}`
  return {
    app,
    url,
    mcpUrl: new URL(`${url}/mcp`),
    config,
    close: async () => {
      await app.close()
      rmSync(stateDir, { recursive: true, force: true })
    },
  }
}
