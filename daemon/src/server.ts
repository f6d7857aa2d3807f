import type { FastifyInstance } from 'fastify'
import { type BuildOptions, buildApp } from './app.ts'
import type { Config } from './config.ts'

export interface RunningDaemon {
  url: string
  app: FastifyInstance
  close(): Promise<void>
}

/** Builds the daemon and listens on the configured address. */
export async function startDaemon(
  config: Config,
  options: Omit<BuildOptions, 'config'> = {},
): Promise<RunningDaemon> {
  const app = await buildApp({ ...options, config })
  await app.listen({ host: config.host, port: config.port })
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : config.port
  const host = config.host.includes(':') ? `[${config.host}]` : config.host
  const url = `http://${host}:${port}`
  // `arw mcp` on the same state directory finds the daemon here and forwards to it.
  // A wildcard address is reached locally through loopback.
  const local = config.host === '0.0.0.0' ? '127.0.0.1' : config.host === '::' ? '[::1]' : host
  app.arw.stateLock.advertise(`http://${local}:${port}`)
  app.log.info(
    {
      url,
      state_dir: config.stateDir,
      durability: config.durability,
      admin: config.adminTokenSha256 ? 'token' : config.debug ? 'loopback (ARW_DEBUG=1)' : 'closed',
    },
    'arw daemon listening',
  )
  let closing: Promise<void> | undefined
  return {
    url,
    app,
    close: () => {
      closing ??= app.close().then(() => app.log.info({ url }, 'arw daemon stopped'))
      return closing
    },
  }
}
