import type { AreaConfig } from '../../kernel/area.ts'
import { intVar } from '../../kernel/env.ts'
import type { Posture, Settings } from './model.ts'
import { parseRule } from './rules.ts'

/** The egress area's slice of the configuration: the settings it starts with until an operator stores others. */
export interface EgressConfig {
  initial: Settings
  /** How long a ledger entry is kept, ms. */
  ledgerTtlMs: number
}

const POSTURES: readonly Posture[] = ['open', 'allowlist', 'closed']

function rules(env: NodeJS.ProcessEnv, name: string, problems: string[]): string[] {
  const texts: string[] = []
  for (const raw of (env[name] ?? '').split(',')) {
    const text = raw.trim().toLowerCase()
    if (text === '') continue
    if (parseRule(text)) texts.push(text)
    else problems.push(`${name}: ${JSON.stringify(text)} is not a rule (host[:port], *.domain or *)`)
  }
  return texts
}

export const egressConfig: AreaConfig<EgressConfig> = {
  vars: [
    {
      name: 'ARW_EGRESS_POSTURE',
      default: 'open',
      description:
        'Outbound traffic to upstreams: open (anything not denied), allowlist (only ARW_EGRESS_ALLOW) or closed (nothing). Used until settings are stored with PATCH /egress/settings.',
    },
    {
      name: 'ARW_EGRESS_ALLOW',
      default: '(empty)',
      description:
        'Comma-separated egress allow rules (host[:port], *.domain, *) for the allowlist posture, e.g. api.github.com,127.0.0.1:8080.',
    },
    {
      name: 'ARW_EGRESS_DENY',
      default: '(empty)',
      description:
        'Comma-separated egress deny rules, refused in every posture (a deny rule wins over an allow rule).',
    },
    {
      name: 'ARW_EGRESS_LEDGER_HOURS',
      default: '168',
      description: 'How long an egress ledger entry is kept, in hours.',
    },
  ],
  parse(env, problems) {
    const raw = (env['ARW_EGRESS_POSTURE'] ?? '').trim()
    let posture: Posture = 'open'
    if (raw !== '') {
      if ((POSTURES as readonly string[]).includes(raw)) posture = raw as Posture
      else problems.push(`ARW_EGRESS_POSTURE=${JSON.stringify(raw)}: expected open, allowlist or closed`)
    }
    return {
      initial: {
        posture,
        allow: rules(env, 'ARW_EGRESS_ALLOW', problems),
        deny: rules(env, 'ARW_EGRESS_DENY', problems),
        scopes: {},
      },
      ledgerTtlMs: intVar(env, 'ARW_EGRESS_LEDGER_HOURS', 168, 1, 87_600, problems) * 3_600_000,
    }
  },
}
