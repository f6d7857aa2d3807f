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
  'api-key': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options']

export const DEFAULT_URL = 'http://127.0.0.1:8090'

export const CLIENT_HELP = `  --url <url>      daemon address: --url, else $ARW_URL, else $BASE (as the README's tour sets it;
                   used only when it is an http(s) URL), else ${DEFAULT_URL}
  --token <token>  admin token, sent as X-ARW-Admin (default $ARW_ADMIN_TOKEN)
  --api-key <key>  API key, sent as Authorization: Bearer (default $ARW_API_KEY): for the API keys
                   of the identity area; until then the daemon takes its admin token there too
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

function isHttpUrl(raw: string): boolean {
  try {
    const url = new URL(raw)
    return url.protocol === 'http:' || url.protocol === 'https:'
  } catch {
    return false
  }
}

/**
 * The daemon's address: --url, then ARW_URL (the CLI's own variable, so it wins), then BASE (what
 * the README's tour exports; a generic name other tools use too, so a BASE that is not an http(s)
 * URL is ignored rather than refused), then the default. A --url or ARW_URL that is not an http(s)
 * URL is a usage error (exit 2), not an unreachable daemon.
 */
export function daemonUrl(url: string | undefined, env: NodeJS.ProcessEnv): string {
  const explicit: Array<[string, string | undefined]> = [
    ['--url', url],
    ['ARW_URL', env['ARW_URL'] || undefined],
  ]
  for (const [from, raw] of explicit) {
    if (raw === undefined) continue
    if (!isHttpUrl(raw))
      throw new UsageError(`${from} must be an http:// or https:// URL, got ${JSON.stringify(raw)}`)
    return raw
  }
  const base = env['BASE']
  return base && isHttpUrl(base) ? base : DEFAULT_URL
}

export function clientFor(
  values: { url?: string | undefined; token?: string | undefined; 'api-key'?: string | undefined },
  io: CliIO,
): ArwClient {
  const baseUrl = daemonUrl(values.url, io.env)
  const token = values.token ?? io.env['ARW_ADMIN_TOKEN']
  const apiKey = values['api-key'] ?? io.env['ARW_API_KEY']
  return new ArwClient({
    baseUrl,
    surface: 'cli',
    ...(token ? { adminToken: token } : {}),
    ...(apiKey ? { apiKey } : {}),
  })
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
