import { type Static, Type } from 'typebox'
import { RULE_PATTERN } from './rules.ts'

/** The egress area's records and answers, as their schemas state them. */

export const Posture = Type.Union([Type.Literal('open'), Type.Literal('allowlist'), Type.Literal('closed')], {
  description:
    'open: any destination not denied; allowlist: only destinations an allow rule names; closed: nothing leaves.',
})
export type Posture = Static<typeof Posture>

export const RuleText = Type.String({
  pattern: RULE_PATTERN,
  maxLength: 260,
  description:
    'host[:port]: `api.example.com`, `*.example.com` (subdomains), `*`, `127.0.0.1:8080`, `[::1]:*`.',
})
const Rules = (description: string) => Type.Array(RuleText, { maxItems: 500, description })

export const SCOPE_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$'

/** A named network scope (seed 003's policy_network_scopes): it narrows, never widens, the posture. */
export const NetworkScope = Type.Object(
  {
    allow: Rules('A request under this scope must match one of these as well as pass the posture.'),
    deny: Rules('Refused under this scope.'),
  },
  { additionalProperties: false },
)
export type NetworkScope = Static<typeof NetworkScope>

export const Settings = Type.Object(
  {
    posture: Posture,
    allow: Rules('Destinations the allowlist posture admits.'),
    deny: Rules('Destinations refused in every posture; a deny rule wins over any allow rule.'),
    scopes: Type.Record(Type.String({ pattern: SCOPE_PATTERN }), NetworkScope, {
      description:
        'Network scopes by name; a connection whose policyId names one is limited by it (set-policy binds it).',
    }),
  },
  { additionalProperties: false },
)
export type Settings = Static<typeof Settings>

export const SettingsView = Type.Object(
  {
    settings: Settings,
    version: Type.Integer({
      minimum: 0,
      description: 'Store version: send it back to update safely (0: nothing stored yet).',
    }),
    source: Type.Union([Type.Literal('stored'), Type.Literal('environment')], {
      description: 'stored: changed through PATCH /egress/settings; environment: ARW_EGRESS_* (or defaults).',
    }),
  },
  { additionalProperties: false },
)
export type SettingsView = Static<typeof SettingsView>

export const Decision = Type.Union([Type.Literal('allowed'), Type.Literal('denied')])
export type Decision = Static<typeof Decision>

const Nullable = (description: string) => Type.Union([Type.String(), Type.Null()], { description })

/** One ledger entry (seed 003's egress_ledger): never a path, a query or a header, only where. */
export const LedgerEntry = Type.Object(
  {
    id: Type.String(),
    at: Type.String({ format: 'date-time' }),
    decision: Decision,
    reason: Type.String(),
    rule: Nullable('The rule that decided, when one did.'),
    destination: Type.String({ description: 'scheme://host:port' }),
    scheme: Type.String(),
    host: Type.String(),
    port: Type.Integer({ minimum: 0, maximum: 65_535 }),
    method: Type.String(),
    area: Type.String({ description: 'The area that sent (or would have sent) the request.' }),
    connection: Nullable('The connection it went through.'),
    scope: Nullable('The network scope that applied.'),
    count: Type.Integer({
      minimum: 1,
      description:
        'Requests this entry stands for (denials of one destination within a second are one entry).',
    }),
  },
  { additionalProperties: false },
)
export type LedgerEntry = Static<typeof LedgerEntry>

/** What the daemon has sent (or refused) to one destination through one connection since it started. */
export const DestinationTally = Type.Object(
  {
    destination: Type.String(),
    area: Type.String(),
    connection: Nullable('The connection the requests went through.'),
    allowed: Type.Integer({ minimum: 0 }),
    denied: Type.Integer({ minimum: 0 }),
    lastAt: Type.String({ format: 'date-time' }),
    lastDecision: Decision,
  },
  { additionalProperties: false },
)
export type DestinationTally = Static<typeof DestinationTally>

export const Verdict = Type.Object(
  {
    decision: Decision,
    destination: Type.String(),
    reason: Type.String(),
    rule: Nullable('The rule that decided, when one did.'),
  },
  { additionalProperties: false },
)
export type Verdict = Static<typeof Verdict>
