import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { buildApp } from '../../daemon/src/app.ts'
import { type Config, sha256Hex, testConfig } from '../../daemon/src/config.ts'
import { TEST_TOKEN } from '../../daemon/src/testing/harness.ts'

/** The local connector module of these tests. */
export const WEATHER = fileURLToPath(new URL('./fixtures/weather-tools.ts', import.meta.url))

export interface Control {
  failures: number
  calls: number
  running: number
  maxRunning: number
  down: number | undefined
}

/** The fixture module's switches (shared through globalThis with the module the daemon loads). */
export function control(): Control {
  const g = globalThis as { __weatherControl?: Control }
  g.__weatherControl ??= { failures: 0, calls: 0, running: 0, maxRunning: 0, down: undefined }
  return g.__weatherControl
}

export function resetControl(): void {
  Object.assign(control(), { failures: 0, calls: 0, running: 0, maxRunning: 0, down: undefined })
}

export const admin = { 'x-arw-admin': TEST_TOKEN }

/** A daemon on a state directory that outlives it (for restarts); `remove()` deletes the directory. */
export class StateDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'arw-conn-'))

  async start(
    overrides: Partial<Config> = {},
    areas?: Record<string, unknown>,
    logger?: Logger,
  ): Promise<FastifyInstance> {
    const base = testConfig({ stateDir: this.dir, adminTokenSha256: sha256Hex(TEST_TOKEN), ...overrides })
    const config: Config = {
      ...base,
      areas: {
        ...base.areas,
        connections: { ...(base.areas['connections'] as object), healthMs: 0, ...areas },
      },
    }
    return buildApp({ config, ...(logger ? { logger } : {}) })
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** Calls a REST route with the admin token; answers status and JSON body. */
export async function rest(
  app: FastifyInstance,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  payload?: unknown,
): Promise<{ status: number; body: any; headers: Record<string, unknown> }> {
  const res = await app.inject({
    method,
    url,
    headers: admin,
    ...(payload !== undefined ? { payload: payload as object } : {}),
  })
  return { status: res.statusCode, body: res.body ? res.json() : undefined, headers: res.headers }
}

/** Invokes a tool over HTTP. */
export function invoke(app: FastifyInstance, id: string, input: unknown) {
  return rest(app, 'POST', `/tools/${id}:invoke`, { input })
}

/** Creates a local connection and a link (auto-enabled); answers the link. */
export async function linkWeather(
  app: FastifyInstance,
  serviceId = 'weather',
  tuning: Record<string, unknown> = {},
): Promise<any> {
  const created = await rest(app, 'POST', '/connections', {
    id: `c-${serviceId}`,
    connectorId: 'local',
    target: { module: WEATHER },
    ...tuning,
  })
  if (created.status !== 200) throw new Error(`create: ${JSON.stringify(created.body)}`)
  const link = await rest(app, 'POST', '/links', {
    id: `l-${serviceId}`,
    connectionId: `c-${serviceId}`,
    serviceId,
    autoEnable: true,
  })
  if (link.status !== 200) throw new Error(`link: ${JSON.stringify(link.body)}`)
  return link.body.link
}
