import { createHash } from 'node:crypto'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Durability } from '@arw/journal'

/** The daemon's settings, read from the environment (see CONFIG_VARS; `arw start --help` lists them). */
export interface Config {
  host: string
  port: number
  stateDir: string
  /** SHA-256 (hex) of the admin token; undefined when none is configured (admin routes closed). */
  adminTokenSha256: string | undefined
  debug: boolean
  durability: Durability
  /** Largest accepted request body, bytes. */
  bodyLimit: number
  /** Interval of SSE heartbeat comments, ms. */
  sseHeartbeatMs: number
  /** Live events a slow SSE subscriber may have queued before it is cut off with events.gap. */
  sseMaxQueue: number
  logLevel: string
  /** How long an Idempotency-Key's first answer is kept, ms. */
  idempotencyTtlMs: number
  /** Failed admin authentications per client address per minute before 429. */
  authFailuresPerMinute: number
  /** Serve the MCP conformance tool pack (test_* tools) for the official conformance suite. */
  mcpConformance: boolean
  /** Origins besides loopback ones that may call /mcp from a browser (exact `scheme://host[:port]`). */
  mcpAllowedOrigins: readonly string[]
  /** Items per page of MCP tools/list and resources/list. */
  mcpPageSize: number
}

export interface ConfigVar {
  name: string
  default: string
  description: string
}

export const CONFIG_VARS: readonly ConfigVar[] = [
  {
    name: 'ARW_HOST',
    default: '127.0.0.1',
    description: 'Address to listen on. Keep loopback unless a proxy guards it.',
  },
  { name: 'ARW_PORT', default: '8090', description: 'TCP port to listen on (0 picks a free one).' },
  {
    name: 'ARW_STATE_DIR',
    default: '~/.arw',
    description: 'Directory of the embedded LMDB store (journal, idempotency keys).',
  },
  {
    name: 'ARW_ADMIN_TOKEN',
    default: '(none)',
    description:
      'Admin token expected in X-ARW-Admin or Authorization: Bearer. Without one, admin routes are closed.',
  },
  {
    name: 'ARW_ADMIN_TOKEN_SHA256',
    default: '(none)',
    description: 'SHA-256 (hex) of the admin token, so the token itself need not be in the environment.',
  },
  {
    name: 'ARW_DEBUG',
    default: '0',
    description: '1 opens admin routes to loopback callers when no token is set, and enables /debug.',
  },
  {
    name: 'ARW_DURABILITY',
    default: 'commit',
    description:
      'commit: acknowledge once committed (survives a killed process). fsync: also wait for the disk flush (survives power loss).',
  },
  { name: 'ARW_BODY_LIMIT', default: '1048576', description: 'Largest accepted request body in bytes.' },
  {
    name: 'ARW_SSE_HEARTBEAT_MS',
    default: '12000',
    description: 'Interval of SSE heartbeat comments in ms.',
  },
  {
    name: 'ARW_SSE_MAX_QUEUE',
    default: '4096',
    description: 'Events a slow SSE subscriber may lag before it gets events.gap.',
  },
  {
    name: 'ARW_LOG_LEVEL',
    default: 'info',
    description: 'pino log level: fatal, error, warn, info, debug, trace, silent.',
  },
  {
    name: 'ARW_IDEMPOTENCY_TTL_S',
    default: '86400',
    description: 'Seconds an Idempotency-Key keeps its first answer.',
  },
  {
    name: 'ARW_AUTH_FAILURES_PER_MIN',
    default: '10',
    description: 'Failed admin logins per client address per minute before 429.',
  },
  {
    name: 'ARW_MCP_CONFORMANCE',
    default: '0',
    description: '1 adds the MCP conformance tool pack (test_* tools the official conformance suite calls).',
  },
  {
    name: 'ARW_MCP_ALLOWED_ORIGINS',
    default: '(none)',
    description:
      'Comma-separated browser origins allowed to call /mcp besides loopback ones; others get 403.',
  },
  {
    name: 'ARW_MCP_PAGE_SIZE',
    default: '100',
    description: 'Items per page of MCP tools/list and resources/list.',
  },
]

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

function intVar(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max: number,
  problems: string[],
): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min || value > max) {
    problems.push(`${name}=${JSON.stringify(raw)}: expected an integer from ${min} to ${max}`)
    return fallback
  }
  return value
}

function flag(env: NodeJS.ProcessEnv, name: string, problems: string[]): boolean {
  const raw = (env[name] ?? '').toLowerCase()
  if (raw === '' || raw === '0' || raw === 'false' || raw === 'no') return false
  if (raw === '1' || raw === 'true' || raw === 'yes') return true
  problems.push(`${name}=${JSON.stringify(env[name])}: expected 1 or 0`)
  return false
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
}

/** Reads and checks every setting; throws one Error listing every bad value. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = []
  const token = env['ARW_ADMIN_TOKEN']
  const tokenHash = env['ARW_ADMIN_TOKEN_SHA256']
  let adminTokenSha256: string | undefined
  if (tokenHash) {
    if (!/^[0-9a-fA-F]{64}$/.test(tokenHash))
      problems.push('ARW_ADMIN_TOKEN_SHA256: expected 64 hex characters')
    else adminTokenSha256 = tokenHash.toLowerCase()
  }
  if (token) {
    if (token.length < 4)
      problems.push('ARW_ADMIN_TOKEN: too short (at least 4 characters; use 32 random bytes in production)')
    else if (adminTokenSha256 && adminTokenSha256 !== sha256Hex(token)) {
      problems.push('ARW_ADMIN_TOKEN and ARW_ADMIN_TOKEN_SHA256 disagree; set only one')
    } else adminTokenSha256 = sha256Hex(token)
  }
  const durability = env['ARW_DURABILITY'] || 'commit'
  if (durability !== 'commit' && durability !== 'fsync') {
    problems.push(`ARW_DURABILITY=${JSON.stringify(durability)}: expected commit or fsync`)
  }
  const logLevel = env['ARW_LOG_LEVEL'] || 'info'
  if (!LOG_LEVELS.includes(logLevel))
    problems.push(`ARW_LOG_LEVEL=${JSON.stringify(logLevel)}: expected one of ${LOG_LEVELS.join(', ')}`)
  const config: Config = {
    host: env['ARW_HOST'] || '127.0.0.1',
    port: intVar(env, 'ARW_PORT', 8090, 0, 65535, problems),
    stateDir: resolve(env['ARW_STATE_DIR'] || join(homedir(), '.arw')),
    adminTokenSha256,
    debug: flag(env, 'ARW_DEBUG', problems),
    durability: durability as Durability,
    bodyLimit: intVar(env, 'ARW_BODY_LIMIT', 1_048_576, 1024, 1_073_741_824, problems),
    sseHeartbeatMs: intVar(env, 'ARW_SSE_HEARTBEAT_MS', 12_000, 50, 3_600_000, problems),
    sseMaxQueue: intVar(env, 'ARW_SSE_MAX_QUEUE', 4096, 16, 10_000_000, problems),
    logLevel,
    idempotencyTtlMs: intVar(env, 'ARW_IDEMPOTENCY_TTL_S', 86_400, 1, 31_536_000, problems) * 1000,
    authFailuresPerMinute: intVar(env, 'ARW_AUTH_FAILURES_PER_MIN', 10, 1, 1_000_000, problems),
    mcpConformance: flag(env, 'ARW_MCP_CONFORMANCE', problems),
    mcpAllowedOrigins: (env['ARW_MCP_ALLOWED_ORIGINS'] ?? '')
      .split(',')
      .map((o) => o.trim().replace(/\/$/, '').toLowerCase())
      .filter((o) => o !== ''),
    mcpPageSize: intVar(env, 'ARW_MCP_PAGE_SIZE', 100, 1, 10_000, problems),
  }
  if (problems.length > 0) throw new Error(`Invalid configuration:\n  - ${problems.join('\n  - ')}`)
  return config
}

/** A config for tests and embedding: defaults, then the given overrides. */
export function testConfig(overrides: Partial<Config> & { stateDir: string }): Config {
  return { ...loadConfig({}), logLevel: 'silent', ...overrides }
}
