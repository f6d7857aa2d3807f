import { CONFIG_VARS, loadConfig } from '../config.ts'
import { startDaemon } from '../server.ts'
import { type CliIO, EXIT, parse } from './io.ts'

export function startHelp(): string {
  const width = Math.max(...CONFIG_VARS.map((v) => v.name.length))
  const vars = CONFIG_VARS.map((v) => `  ${v.name.padEnd(width)}  ${v.description} (default: ${v.default})`)
  return `Usage: arw start

Starts the daemon in the foreground (Ctrl-C or SIGTERM stops it cleanly). Configuration comes from
the environment:
${vars.join('\n')}
Exit status: 0 after a clean stop, 4 when the configuration is invalid or the port cannot be bound.
`
}

export async function startCommand(args: readonly string[], io: CliIO): Promise<number> {
  const { values } = parse(args, { help: { type: 'boolean', short: 'h' } }, false)
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
  await daemon.close()
  return EXIT.ok
}
