import { createHash } from 'node:crypto'
import { isIP } from 'node:net'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Durability } from '@arw/store'
import { AREAS } from './areas/index.ts'
import type { Area } from './kernel/area.ts'
import type { ConfigVar } from './kernel/config-var.ts'
import { flag, intVar, retentionVar } from './kernel/env.ts'

export type { ConfigVar }

/** The daemon's settings, read from the environment (see CONFIG_VARS; `arw start --help` lists them). */
export interface Config {
  host: string
  port: number
  stateDir: string
  /**
   * Where state is kept: undefined for the embedded LMDB store in `stateDir`, or a
   * `postgres://` URL (ARW_STORE) for a PostgreSQL database that several daemons may share.
   */
  store: string | undefined
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
  /** Browser origins besides loopback and same-origin ones that may call the daemon (exact `scheme://host[:port]`). */
  allowedOrigins: readonly string[]
  /** Host names besides loopback ones the Host header may carry (the daemon's public names). */
  publicHosts: readonly string[]
  /** Proxies whose X-Forwarded-For / Forwarded headers name the real client (addresses or CIDRs). */
  trustProxy: readonly string[]
  /** Items per page of MCP tools/list and resources/list. */
  mcpPageSize: number
  /** How long a call that needs an approval may wait at the gate before it is suspended, ms. */
  approvalWaitMs: number
  /** Largest JSON (bytes) of a call's input or output kept in its record; larger: digest and size. */
  recordValueLimit: number
  /** Which old journal records are removed (ARW_JOURNAL_RETENTION); undefined keeps every record. */
  journalRetention: { maxAgeMs?: number; maxBytes?: number } | undefined
  /** Each area's slice of the configuration, by area name (see defineArea's `config`). */
  areas: Readonly<Record<string, unknown>>
}

/** The daemon core's variables; areas add theirs (see configVars). */
export const CORE_CONFIG_VARS: readonly ConfigVar[] = [
  {
    name: 'ARW_HOST',
    default: '127.0.0.1',
    description: 'Address (an IP address or host name) to listen on. Keep loopback unless a proxy guards it.',
  },
  { name: 'ARW_PORT', default: '8090', description: 'TCP port to listen on (0 picks a free one).' },
  {
    name: 'ARW_STATE_DIR',
    default: '~/.arw',
    description:
      'Directory of the embedded LMDB store (journal, idempotency keys) when ARW_STORE is unset; created if missing. One process at a time writes it (daemon.lock).',
  },
  {
    name: 'ARW_STORE',
    default: '(unset: LMDB in ARW_STATE_DIR)',
    description:
      'postgres://user:password@host:port/database keeps all state in PostgreSQL instead (schema created and migrated at start; several daemons may share it).',
  },
  {
    name: 'ARW_ADMIN_TOKEN',
    default: '(none)',
    description:
      'Admin token expected in X-ARW-Admin or Authorization: Bearer; at least 16 characters, 8 of them different (openssl rand -hex 32), unless ARW_DEBUG=1. Without one, admin routes are closed.',
  },
  {
    name: 'ARW_ADMIN_TOKEN_SHA256',
    default: '(none)',
    description: 'SHA-256 (hex) of the admin token, so the token itself need not be in the environment.',
  },
  {
    name: 'ARW_DEBUG',
    default: '0',
    description:
      '1 or 0. 1 opens admin routes to loopback callers when no token is set, enables /debug, and accepts a weak ARW_ADMIN_TOKEN.',
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
    description:
      'Failed authentications per real client address (through ARW_TRUST_PROXY) per minute before that client gets 429 for the rest of the minute.',
  },
  {
    name: 'ARW_ALLOWED_ORIGINS',
    default: '(none)',
    description:
      'Comma-separated browser origins (scheme://host[:port]) allowed besides loopback and same-origin ones; requests a browser sends from any other origin get 403.',
  },
  {
    name: 'ARW_MCP_ALLOWED_ORIGINS',
    default: '(none)',
    description: 'Older name of ARW_ALLOWED_ORIGINS (both are read; their origins add up).',
  },
  {
    name: 'ARW_PUBLIC_HOSTS',
    default: '(none)',
    description:
      'Comma-separated host names the daemon is reached by besides loopback ones (behind a proxy or by a DNS name); other Host headers get 403.',
  },
  {
    name: 'ARW_TRUST_PROXY',
    default: '(none)',
    description:
      'Comma-separated proxy addresses or CIDRs (e.g. 127.0.0.1,10.0.0.0/8) whose X-Forwarded-For names the real client. Forwarded requests are never treated as loopback.',
  },
  {
    name: 'ARW_APPROVAL_WAIT_MS',
    default: '0',
    description:
      'How long a call that needs a human approval waits for it before it answers approval_required with the approval id (0: at once; capped by the tool timeout).',
  },
  {
    name: 'ARW_RECORD_VALUE_LIMIT',
    default: '4096',
    description:
      "Largest JSON (bytes) of a call's input or output kept in its tool.ran record; a larger one is recorded as its SHA-256 and size only.",
  },
  {
    name: 'ARW_JOURNAL_RETENTION',
    default: 'off',
    description:
      'Removes old journal records: an age (7d; s, m, h, d, w), a size (500MB; KB, MB, GB, TB) or both (7d,500MB). Checked at start and every 10 minutes; the oldest records go first, the newest always stays.',
  },
  {
    name: 'ARW_MCP_PAGE_SIZE',
    default: '100',
    description: 'Items per page of MCP tools/list and resources/list.',
  },
]

/** Every variable the daemon reads: the core's, then each area's in area order. */
export function configVars(areas: readonly Area[] = AREAS): ConfigVar[] {
  return [...CORE_CONFIG_VARS, ...areas.flatMap((a) => a.config?.vars ?? [])]
}

/** Every variable, for `arw start --help` and the configuration doc's check. */
export const CONFIG_VARS: readonly ConfigVar[] = configVars()

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

function list(env: NodeJS.ProcessEnv, name: string): string[] {
  return (env[name] ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '')
}

/** Origins exactly as browsers send them: scheme://host[:port], lowercase, nothing else. */
function origins(env: NodeJS.ProcessEnv, name: string, problems: string[]): string[] {
  const out: string[] = []
  for (const raw of list(env, name)) {
    const value = raw.replace(/\/$/, '').toLowerCase()
    let origin: string | undefined
    try {
      origin = new URL(value).origin
    } catch {
      origin = undefined
    }
    // Browsers send http(s) origins only; anything else could never match.
    if (origin === undefined || origin === 'null' || origin !== value || !/^https?:/.test(origin)) {
      problems.push(`${name}: ${JSON.stringify(raw)} is not an origin (expected scheme://host[:port])`)
    } else out.push(origin)
  }
  return out
}

const ADDRESS = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-f:]+)(\/\d{1,3})?$/i

/** Shortest admin token accepted outside ARW_DEBUG=1, and the fewest different characters in it. */
export const MIN_TOKEN_LENGTH = 16
export const MIN_TOKEN_DISTINCT = 8

/** Why `token` is too weak to guard admin routes, or undefined when it is acceptable. */
export function weakToken(token: string): string | undefined {
  if (token.length < MIN_TOKEN_LENGTH)
    return `too short (${token.length} characters, at least ${MIN_TOKEN_LENGTH})`
  // A cheap stand-in for entropy: repeated or patterned tokens ("aaaa…", "abab…") use few symbols.
  if (new Set(token).size < MIN_TOKEN_DISTINCT)
    return `too little entropy (fewer than ${MIN_TOKEN_DISTINCT} different characters)`
  return undefined
}

/** An IP address or a DNS name (what `listen` accepts as a host). */
function hostVar(env: NodeJS.ProcessEnv, problems: string[]): string {
  const host = env['ARW_HOST'] || '127.0.0.1'
  const name = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i
  if (isIP(host) === 0 && !name.test(host))
    problems.push(`ARW_HOST=${JSON.stringify(host)}: expected an IP address or a host name`)
  return host
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
}

/** Reads and checks every setting; throws one Error listing every bad value. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, areas: readonly Area[] = AREAS): Config {
  const problems: string[] = []
  const token = env['ARW_ADMIN_TOKEN']
  const tokenHash = env['ARW_ADMIN_TOKEN_SHA256']
  let adminTokenSha256: string | undefined
  if (tokenHash) {
    if (!/^[0-9a-fA-F]{64}$/.test(tokenHash))
      problems.push('ARW_ADMIN_TOKEN_SHA256: expected 64 hex characters')
    else adminTokenSha256 = tokenHash.toLowerCase()
  }
  const debug = flag(env, 'ARW_DEBUG', problems)
  const weak = token ? weakToken(token) : undefined
  if (token) {
    if (weak && !debug)
      problems.push(
        `ARW_ADMIN_TOKEN: ${weak}; generate one with: openssl rand -hex 32 (ARW_DEBUG=1 accepts weak tokens for local development)`,
      )
    else if (adminTokenSha256 && adminTokenSha256 !== sha256Hex(token)) {
      problems.push('ARW_ADMIN_TOKEN and ARW_ADMIN_TOKEN_SHA256 disagree; set only one')
    } else adminTokenSha256 = sha256Hex(token)
  }
  const durability = env['ARW_DURABILITY'] || 'commit'
  if (durability !== 'commit' && durability !== 'fsync') {
    problems.push(`ARW_DURABILITY=${JSON.stringify(durability)}: expected commit or fsync`)
  }
  const store = env['ARW_STORE'] || undefined
  // The URL may hold a password: a bad value is reported without it.
  if (store !== undefined && !/^postgres(ql)?:\/\/[^\s]+$/.test(store))
    problems.push(
      'ARW_STORE: expected a postgres:// or postgresql:// URL (or unset for LMDB in ARW_STATE_DIR)',
    )
  const logLevel = env['ARW_LOG_LEVEL'] || 'info'
  if (!LOG_LEVELS.includes(logLevel))
    problems.push(`ARW_LOG_LEVEL=${JSON.stringify(logLevel)}: expected one of ${LOG_LEVELS.join(', ')}`)
  const config: Config = {
    host: hostVar(env, problems),
    port: intVar(env, 'ARW_PORT', 8090, 0, 65535, problems),
    stateDir: resolve(env['ARW_STATE_DIR'] || join(homedir(), '.arw')),
    store,
    adminTokenSha256,
    debug,
    durability: durability as Durability,
    bodyLimit: intVar(env, 'ARW_BODY_LIMIT', 1_048_576, 1024, 1_073_741_824, problems),
    sseHeartbeatMs: intVar(env, 'ARW_SSE_HEARTBEAT_MS', 12_000, 50, 3_600_000, problems),
    sseMaxQueue: intVar(env, 'ARW_SSE_MAX_QUEUE', 4096, 16, 10_000_000, problems),
    logLevel,
    idempotencyTtlMs: intVar(env, 'ARW_IDEMPOTENCY_TTL_S', 86_400, 1, 31_536_000, problems) * 1000,
    authFailuresPerMinute: intVar(env, 'ARW_AUTH_FAILURES_PER_MIN', 10, 1, 1_000_000, problems),
    allowedOrigins: [
      ...new Set([
        ...origins(env, 'ARW_ALLOWED_ORIGINS', problems),
        ...origins(env, 'ARW_MCP_ALLOWED_ORIGINS', problems),
      ]),
    ],
    publicHosts: list(env, 'ARW_PUBLIC_HOSTS').map((h) => h.toLowerCase()),
    trustProxy: list(env, 'ARW_TRUST_PROXY'),
    mcpPageSize: intVar(env, 'ARW_MCP_PAGE_SIZE', 100, 1, 10_000, problems),
    approvalWaitMs: intVar(env, 'ARW_APPROVAL_WAIT_MS', 0, 0, 3_600_000, problems),
    recordValueLimit: intVar(env, 'ARW_RECORD_VALUE_LIMIT', 4096, 0, 16_777_216, problems),
    journalRetention: retentionVar(env, 'ARW_JOURNAL_RETENTION', problems),
    areas: {},
  }
  for (const proxy of config.trustProxy) {
    if (!ADDRESS.test(proxy))
      problems.push(`ARW_TRUST_PROXY: ${JSON.stringify(proxy)} is not an address or CIDR`)
  }
  const slices: Record<string, unknown> = {}
  for (const area of areas) if (area.config) slices[area.name] = area.config.parse(env, problems)
  config.areas = Object.freeze(slices)
  if (problems.length > 0) throw new Error(`Invalid configuration:\n  - ${problems.join('\n  - ')}`)
  return config
}

/** A config for tests and embedding: defaults, then the given overrides. */
export function testConfig(overrides: Partial<Config> & { stateDir: string }): Config {
  return { ...loadConfig({}), logLevel: 'silent', ...overrides }
}
