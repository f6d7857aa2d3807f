import { CONFIG_VARS, loadConfig } from '../config.ts'
import { startDaemon } from '../server.ts'
import { type CliIO, EXIT, parse } from './io.ts'

/**
 * How long a stop may take. Requests still running get this long to finish (every tool call is
 * bounded by its own timeout); past it the process exits anyway, so a process manager's SIGTERM
 * always ends the daemon. Records of answered calls are committed already.
 */
export const SHUTDOWN_GRACE_MS = 10_000

export function startHelp(): string {
  const width = Math.max(...CONFIG_VARS.map((v) => v.name.length))
  const vars = CONFIG_VARS.map((v) => `  ${v.name.padEnd(width)}  ${v.description} (default: ${v.default})`)
  return `Usage: arw start [-h | --help]

Starts the daemon in the foreground, as this process (for a process manager: node daemon/bin/arw.js
start). SIGTERM or Ctrl-C stops it: requests still running get ${SHUTDOWN_GRACE_MS / 1000} s to finish, the
journal records daemon.stopped, and "arw: daemon stopped" is printed. Configuration comes from
the environment:
${vars.join('\n')}
Exit status: 0 after a clean stop, 1 when requests outlived the grace period, 4 when the configuration is invalid or the port cannot be bound.
`
}

export const START_OPTIONS = { help: { type: 'boolean', short: 'h' } } as const

export async function startCommand(args: readonly string[], io: CliIO): Promise<number> {
  const { values } = parse(args, START_OPTIONS, false)
  if (values.help) {
    io.out(startHelp())
    return EXIT.ok
  }
  let daemon: Awaited<ReturnType<typeof startDaemon>>
  try {
    daemon = await startDaemon(loadConfig(io.env))
  } catch (error) {
    io.err(`arw: cannot start: ${error instanceof Error ? error.message : String(error)}\n`)
    return EXIT.config
  }
  io.err(`arw: daemon listening on ${daemon.url}\n`)
  await new Promise<void>((resolve) => {
    if (io.signal?.aborted) resolve()
    io.signal?.addEventListener('abort', () => resolve(), { once: true })
  })
  let timer: NodeJS.Timeout | undefined
  const grace = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), SHUTDOWN_GRACE_MS)
  })
  const outcome = await Promise.race([daemon.close().then(() => 'clean' as const), grace])
  clearTimeout(timer)
  if (outcome === 'late') {
    io.err(`arw: daemon stopped after ${SHUTDOWN_GRACE_MS / 1000} s with requests still running\n`)
    return EXIT.problem
  }
  io.err('arw: daemon stopped\n')
  return EXIT.ok
}
