import { defineEvent } from '@arw/registry'
import Type from 'typebox'
import { Connection, Connector, Health, LinkStatus } from './model.ts'

/**
 * The connections area's event kinds (seed 003 "Events": ConnectionAdded ... BackoffApplied, in
 * the project's dot.case). None carries a secret: a connection says only whether one is bound.
 */

export const connectorRegistered = defineEvent({
  kind: 'connectors.registered',
  version: '1.0.0',
  title: 'A custom connector was registered',
  description: 'POST /connectors/register added (or replaced) a custom connector.',
  payload: Type.Object({ connector: Connector }),
})

export const connectionAdded = defineEvent({
  kind: 'connections.added',
  version: '1.0.0',
  title: 'A connection was created',
  description: 'A connection was stored (disabled until toggled or enabled by a link).',
  payload: Type.Object({ connection: Connection }),
})

export const connectionUpdated = defineEvent({
  kind: 'connections.updated',
  version: '1.0.0',
  title: 'A connection changed',
  description:
    'Its tuning was updated, it was enabled or disabled, or its status changed after a health test; `changed` names the fields.',
  payload: Type.Object({ connection: Connection, changed: Type.Array(Type.String()) }),
})

export const connectionRemoved = defineEvent({
  kind: 'connections.removed',
  version: '1.0.0',
  title: 'A connection was deleted',
  description: 'The connection, its links, their imported tools and its secret were removed.',
  payload: Type.Object({ id: Type.String(), links: Type.Array(Type.String()) }),
})

export const connectionPolicyChanged = defineEvent({
  kind: 'connections.policy_changed',
  version: '1.0.0',
  title: 'A connection was bound to a policy',
  description: 'set-policy bound (or, with null, unbound) a policy id.',
  payload: Type.Object({ id: Type.String(), policyId: Type.Union([Type.String(), Type.Null()]) }),
})

export const connectionSecretBound = defineEvent({
  kind: 'connections.secret_bound',
  version: '1.0.0',
  title: 'A secret was bound to a connection',
  description:
    'bind-secret stored a secret, encrypted at rest. The event names the reference, never the secret.',
  payload: Type.Object({ id: Type.String(), secretRef: Type.String() }),
})

export const connectionRateLimited = defineEvent({
  kind: 'connections.rate_limited',
  version: '1.0.0',
  title: 'Calls through a connection were refused for its limits',
  description:
    'Calls were refused with rate_limited by the connection rate limit or concurrency cap, or the upstream answered 429. At most one event per connection per second; `count` says how many refusals it stands for.',
  severity: 'warning',
  payload: Type.Object({
    id: Type.String(),
    source: Type.Union([Type.Literal('admission'), Type.Literal('upstream')]),
    count: Type.Integer({ minimum: 1 }),
    retryAfterMs: Type.Optional(Type.Integer({ minimum: 0 })),
  }),
})

export const connectionBackoffApplied = defineEvent({
  kind: 'connections.backoff_applied',
  version: '1.0.0',
  title: 'A call or a link waits before trying again',
  description:
    'A failed call safe to repeat is retried after `delayMs`, or a link that went down is brought up again after it.',
  severity: 'warning',
  payload: Type.Object({
    id: Type.String({ description: 'The connection.' }),
    linkId: Type.Optional(Type.String()),
    tool: Type.Optional(Type.String()),
    attempt: Type.Integer({ minimum: 1 }),
    delayMs: Type.Integer({ minimum: 0 }),
    reason: Type.String(),
  }),
})

export const connectionBreaker = defineEvent({
  kind: 'connections.breaker_changed',
  version: '1.0.0',
  title: "A connection's circuit breaker opened, half-opened or closed",
  description:
    'After repeated upstream failures the circuit opens (calls answer unavailable at once); after halfOpenAfterMs one probe call is let through; its success closes it.',
  severity: 'warning',
  payload: Type.Object({
    id: Type.String(),
    state: Type.Union([Type.Literal('open'), Type.Literal('half_open'), Type.Literal('closed')]),
  }),
})

const LinkRef = {
  id: Type.String(),
  connectionId: Type.String(),
  serviceId: Type.String(),
}

export const linkAdded = defineEvent({
  kind: 'links.added',
  version: '1.0.0',
  title: 'A link was created',
  description: 'A connection was bound to a service namespace.',
  payload: Type.Object(LinkRef),
})

export const linkRemoved = defineEvent({
  kind: 'links.removed',
  version: '1.0.0',
  title: 'A link was deleted',
  description: 'Its imported tools were removed from the registry.',
  payload: Type.Object({ ...LinkRef, tools: Type.Array(Type.String()) }),
})

export const linkUp = defineEvent({
  kind: 'links.up',
  version: '1.0.0',
  title: 'A link came up',
  description:
    "The upstream's tools were read and imported under the service namespace. `tools` lists every version the link has registered, as the link's `tools` does: the current one of each upstream tool, then the earlier versions kept beside them (deprecated) after a schema change; `rejected` lists the tools that were not imported (malformed schema, name collision).",
  payload: Type.Object({
    ...LinkRef,
    tools: Type.Array(Type.String()),
    rejected: Type.Array(Type.Object({ upstream: Type.String(), reason: Type.String() })),
  }),
})

export const linkDown = defineEvent({
  kind: 'links.down',
  version: '1.0.0',
  title: 'A link went down',
  description:
    'The session with the upstream ended (disabled, failed, closed by the upstream). Its tools stay listed and answer unavailable.',
  severity: 'warning',
  payload: Type.Object({ ...LinkRef, status: LinkStatus, reason: Type.String() }),
})

export const linkHealthChanged = defineEvent({
  kind: 'links.health_changed',
  version: '1.0.0',
  title: "A link's health changed",
  description: 'A health test (on demand or on the interval) found the link newly healthy or unhealthy.',
  payload: Type.Object({ ...LinkRef, health: Health }),
})

export const connectionsEvents = [
  connectorRegistered,
  connectionAdded,
  connectionUpdated,
  connectionRemoved,
  connectionPolicyChanged,
  connectionSecretBound,
  connectionRateLimited,
  connectionBackoffApplied,
  connectionBreaker,
  linkAdded,
  linkRemoved,
  linkUp,
  linkDown,
  linkHealthChanged,
]
