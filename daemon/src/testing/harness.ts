import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { type BuildOptions, buildApp } from '../app.ts'
import { type Config, sha256Hex, testConfig } from '../config.ts'

export const TEST_TOKEN = 'test-admin-token'

export interface TestDaemon {
  app: FastifyInstance
  config: Config
  /** Headers carrying the admin token. */
  admin: Record<string, string>
  /** Listens on a random loopback port and answers the base URL (`http://127.0.0.1:<port>`). */
  listen(): Promise<string>
  close(): Promise<void>
}

/** An in-process daemon on a fresh state directory, for app.inject() tests. */
export async function testDaemon(
  options: Omit<BuildOptions, 'config'> & { config?: Partial<Config>; token?: string | null } = {},
): Promise<TestDaemon> {
  const stateDir = mkdtempSync(join(tmpdir(), 'arw-test-'))
  const token = options.token === undefined ? TEST_TOKEN : options.token
  const config = testConfig({
    stateDir,
    adminTokenSha256: token === null ? undefined : sha256Hex(token),
    ...options.config,
  })
  const app = await buildApp({ ...options, config })
  return {
    app,
    config,
    admin: token === null ? {} : { 'x-arw-admin': token },
    listen: async () => {
      await app.listen({ host: '127.0.0.1', port: 0 })
      const address = app.server.address()
      if (typeof address !== 'object' || !address) throw new Error('daemon is not listening on TCP')
      return `http://127.0.0.1:${address.port}`
    },
    close: async () => {
      await app.close()
      rmSync(stateDir, { recursive: true, force: true })
    },
  }
}
