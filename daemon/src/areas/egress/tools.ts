import { ERRORS, ProblemError } from '@arw/protocol'
import Type from 'typebox'
import { areaKit } from '../../kernel/area.ts'
import type { EgressConfig } from './config.ts'
import {
  Decision,
  DestinationTally,
  LedgerEntry,
  Posture,
  SCOPE_PATTERN,
  Settings,
  SettingsView,
  Verdict,
} from './model.ts'
import type { EgressServices } from './services.ts'

const { tool } = areaKit<EgressServices, EgressConfig>()

export const settingsGet = tool({
  name: 'egress.settings.get',
  version: '1.0.0',
  title: 'Read the egress settings',
  description:
    'The egress policy in force: posture, allow and deny rules, network scopes, with the version to send back when updating.',
  input: Type.Object({}, { additionalProperties: false }),
  output: SettingsView,
  hints: { readOnly: true, idempotent: true, openWorld: false },
  capabilities: ['egress'],
  permission: 'egress:read',
  http: { method: 'GET', path: '/egress/settings' },
  examples: [{ title: 'The policy in force', input: {} }],
  handler: async (_input, { services }) => services.egress.settings,
})

export const settingsUpdate = tool({
  name: 'egress.settings.update',
  version: '1.0.0',
  title: 'Change the egress settings',
  description:
    'Replaces the fields given (posture, allow, deny, scopes: each replaced whole); the new policy applies to the next outbound request, without a restart, and is kept across restarts. Send `version` (from a read) to refuse the change when someone changed the settings since.',
  input: Type.Object(
    { version: Type.Optional(Type.Integer({ minimum: 0 })), ...Type.Partial(Settings).properties },
    { additionalProperties: false },
  ),
  output: SettingsView,
  errors: ['conflict'],
  hints: { readOnly: false, idempotent: true, destructive: false, openWorld: false },
  capabilities: ['egress'],
  permission: 'egress:admin',
  http: { method: 'PATCH', path: '/egress/settings' },
  examples: [
    {
      title: 'Only the upstreams the team uses',
      input: { posture: 'allowlist', allow: ['api.github.com', '127.0.0.1:8080'] },
    },
    {
      title: 'A network scope for connections bound to team-a',
      input: { scopes: { 'team-a': { allow: ['*.team-a.internal'], deny: [] } } },
    },
  ],
  handler: async ({ version, ...fields }, ctx) => {
    const { egress } = ctx.services
    const next: Settings = { ...egress.settings.settings }
    const changed: string[] = []
    for (const [key, value] of Object.entries(fields)) {
      if (value === undefined) continue
      ;(next as Record<string, unknown>)[key] = value
      changed.push(key)
    }
    // Nothing to change: the settings as they are (no write, no event).
    if (changed.length === 0) return egress.settings
    return egress.update(next, changed, version, ctx)
  },
})

export const ledgerList = tool({
  name: 'egress.ledger.list',
  version: '1.0.0',
  title: 'Read the egress ledger',
  description:
    'Newest first: every refused outbound request (those of one destination within a second as one entry with a count) and the first request to each destination through each connection since the start or the last settings change. Filters apply within a page, so a filtered page may hold fewer than `limit` entries; follow `next_cursor`.',
  input: Type.Object(
    {
      decision: Type.Optional(Decision),
      connection: Type.Optional(Type.String({ maxLength: 64 })),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
      cursor: Type.Optional(Type.String({ maxLength: 2048 })),
    },
    { additionalProperties: false },
  ),
  output: Type.Object(
    {
      entries: Type.Array(LedgerEntry),
      next_cursor: Type.Optional(Type.String({ description: 'Absent on the last page.' })),
    },
    { additionalProperties: false },
  ),
  hints: { readOnly: true, idempotent: true, openWorld: false },
  capabilities: ['egress'],
  permission: 'egress:read',
  http: { method: 'GET', path: '/egress/ledger' },
  examples: [
    { title: 'The latest entries', input: {} },
    { title: 'Refusals only', input: { decision: 'denied', limit: 20 } },
  ],
  handler: async ({ decision, connection, limit, cursor }, { services }) => {
    const page = await services.ledger.list({ limit: limit ?? 100, ...(cursor ? { cursor } : {}) })
    const entries = page.items
      .map((e) => e.value)
      .filter(
        (e) =>
          (decision === undefined || e.decision === decision) &&
          (connection === undefined || e.connection === connection),
      )
    return { entries, ...(page.next_cursor ? { next_cursor: page.next_cursor } : {}) }
  },
})

export const egressState = tool({
  name: 'egress.state',
  version: '1.0.0',
  title: 'Destinations the daemon talks to',
  description:
    'A read-model of outbound traffic since this daemon started: per destination and connection, the requests allowed and refused and the last one; with the posture in force.',
  input: Type.Object({}, { additionalProperties: false }),
  output: Type.Object(
    { posture: Posture, version: Type.Integer({ minimum: 0 }), destinations: Type.Array(DestinationTally) },
    { additionalProperties: false },
  ),
  hints: { readOnly: true, idempotent: true, openWorld: false },
  capabilities: ['egress'],
  permission: 'egress:read',
  http: { method: 'GET', path: '/state/egress' },
  examples: [{ title: 'Every destination so far', input: {} }],
  handler: async (_input, { services }) => ({
    posture: services.egress.settings.settings.posture,
    version: services.egress.settings.version,
    destinations: services.egress.tallies(),
  }),
})

export const egressPreview = tool({
  name: 'egress.preview',
  version: '1.0.0',
  title: 'Would this request leave?',
  description:
    'What the egress policy in force would decide for a URL (under a network scope, when named), and why. Sends nothing and records nothing.',
  input: Type.Object(
    {
      url: Type.String({
        format: 'uri',
        pattern: '^(https?|wss?)://',
        maxLength: 2048,
        description: 'An http, https, ws or wss URL.',
      }),
      scope: Type.Optional(Type.String({ pattern: SCOPE_PATTERN, description: 'A network scope name.' })),
    },
    { additionalProperties: false },
  ),
  output: Verdict,
  hints: { readOnly: true, idempotent: true, openWorld: false },
  capabilities: ['egress'],
  permission: 'egress:read',
  http: { method: 'POST', path: '/egress/preview' },
  examples: [
    { title: 'May the daemon reach GitHub?', input: { url: 'https://api.github.com/repos' } },
    { title: 'Under a network scope', input: { url: 'http://10.0.0.7:8080/', scope: 'team-a' } },
  ],
  handler: async ({ url, scope }, { services }) => {
    let parsed: URL | undefined
    try {
      parsed = new URL(url)
    } catch {
      parsed = undefined
    }
    if (!parsed || !/^(https?|wss?):$/.test(parsed.protocol))
      throw new ProblemError(ERRORS.bad_request, {
        reason: 'url must be an absolute http, https, ws or wss URL',
      })
    return services.egress.preview(parsed, scope)
  },
})

export const egressTools = [settingsGet, settingsUpdate, ledgerList, egressState, egressPreview]
