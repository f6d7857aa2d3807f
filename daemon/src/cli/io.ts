import { type ParseArgsConfig, parseArgs } from 'node:util'
import { ArwClient, ArwProblemError, ArwUnreachableError } from '@arw/client'

/** Exit codes scripts can rely on (listed in `arw --help`). */
export const EXIT = {
  ok: 0,
  /** The daemon answered with a problem (bad input, denied, tool failed...). */
  problem: 1,
  /** The command line was wrong. */
  usage: 2,
  /** The daemon could not be reached. */
  unreachable: 3,
  /** The configuration is invalid, or the daemon could not start. */
  config: 4,
} as const

/** Where a command writes, and what it reads from its environment: swapped in tests. */
export interface CliIO {
  out(text: string): void
  err(text: string): void
  env: NodeJS.ProcessEnv
  /** Aborted on SIGINT/SIGTERM for long-running commands. */
  signal?: AbortSignal
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/** Options every command that talks to a daemon accepts. */
export const CLIENT_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options']

export const CLIENT_HELP = `  --url <url>      daemon address (default $ARW_URL or http://127.0.0.1:8090)
  --token <token>  admin token (default $ARW_ADMIN_TOKEN)
  -h, --help       this help`

export function parse<O extends NonNullable<ParseArgsConfig['options']>>(
  args: readonly string[],
  options: O,
  allowPositionals = true,
) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals, strict: true })
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error))
  }
}

export function clientFor(
  values: { url?: string | undefined; token?: string | undefined },
  io: CliIO,
): ArwClient {
  const baseUrl = values.url ?? io.env['ARW_URL'] ?? 'http://127.0.0.1:8090'
  const token = values.token ?? io.env['ARW_ADMIN_TOKEN']
  return new ArwClient({ baseUrl, surface: 'cli', ...(token ? { adminToken: token } : {}) })
}

/** Maps a failure to its exit code, printing what a user needs to see on stderr. */
export function report(error: unknown, io: CliIO): number {
  if (error instanceof UsageError) {
    io.err(`arw: ${error.message}\nTry 'arw --help'.\n`)
    return EXIT.usage
  }
  if (error instanceof ArwProblemError) {
    io.err(`${JSON.stringify(error.problem, null, 2)}\n`)
    return EXIT.problem
  }
  if (error instanceof ArwUnreachableError) {
    io.err(`arw: ${error.message}\n`)
    return EXIT.unreachable
  }
  io.err(`arw: ${error instanceof Error ? error.message : String(error)}\n`)
  return EXIT.problem
}
