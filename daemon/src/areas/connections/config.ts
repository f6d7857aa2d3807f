import type { AreaConfig } from '../../kernel/area.ts'
import { intVar } from '../../kernel/env.ts'
import { parseKey } from './secrets.ts'

/** The connections area's slice of the configuration. */
export interface ConnectionsConfig {
  /** Interval of the health test of every live link, ms (0: only on demand). */
  healthMs: number
  /** Longest wait between two attempts to bring a link back up, ms. */
  reconnectMaxMs: number
  /** The secret key from ARW_SECRET_KEY; undefined: the state directory's key file. */
  secretKey: Buffer | undefined
}

export const connectionsConfig: AreaConfig<ConnectionsConfig> = {
  vars: [
    {
      name: 'ARW_CONNECTIONS_HEALTH_MS',
      default: '30000',
      description:
        'Interval in ms of the health test (a ping) of every live link; connection status and link health follow it (0: tests on demand only).',
    },
    {
      name: 'ARW_CONNECTIONS_RECONNECT_MAX_MS',
      default: '60000',
      description:
        'Longest wait in ms between two attempts to bring a link back up (exponential backoff with jitter from 250 ms).',
    },
    {
      name: 'ARW_SECRET_KEY',
      default: '(unset: secret.key in ARW_STATE_DIR)',
      description:
        'The 32-byte key (64 hex characters or base64) that encrypts connection secrets at rest (AES-256-GCM). Unset: a key file created with mode 0600 in the state directory.',
    },
  ],
  parse(env, problems) {
    const raw = env['ARW_SECRET_KEY'] || undefined
    const secretKey = raw === undefined ? undefined : parseKey(raw)
    // The value is never repeated: it is a key.
    if (raw !== undefined && secretKey === undefined)
      problems.push('ARW_SECRET_KEY: expected 32 bytes as 64 hex characters or base64 (openssl rand -hex 32)')
    return {
      healthMs: intVar(env, 'ARW_CONNECTIONS_HEALTH_MS', 30_000, 0, 86_400_000, problems),
      reconnectMaxMs: intVar(env, 'ARW_CONNECTIONS_RECONNECT_MAX_MS', 60_000, 10, 3_600_000, problems),
      secretKey,
    }
  },
}
