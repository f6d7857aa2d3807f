import { PROBLEM_CODES } from '@arw/protocol'
import { defineEvent } from '@arw/registry'
import Type from 'typebox'

/** Event kinds of the daemon core. Areas declare their own beside their tools. */
const Verdict = {
  decision: Type.Union([Type.Literal('allow'), Type.Literal('deny'), Type.Literal('needs_approval')]),
  reason: Type.String(),
  policy_id: Type.Optional(Type.String()),
  obligations: Type.Optional(
    Type.Array(Type.Object({ kind: Type.String() }), {
      description:
        'What the deciding stages asked of the call besides their verdict (e.g. a budget reservation).',
    }),
  ),
}

export const toolRan = defineEvent({
  kind: 'tool.ran',
  version: '1.1.0',
  title: 'A tool call finished',
  description:
    'The call record of one invoke, from any surface: which tool, who called, what policy decided, how it ended and how long it took. Inputs and outputs are kept when their JSON is at most ARW_RECORD_VALUE_LIMIT bytes (else as {omitted, bytes, sha256}), with secret-looking fields redacted.',
  payload: Type.Object({
    tool: Type.String({
      description: 'Resolved id@version, or the reference as given when it did not resolve.',
    }),
    outcome: Type.Union([Type.Literal('ok'), Type.Literal('error'), Type.Literal('cancelled')]),
    surface: Type.String({ description: 'http, mcp, cli, debug, nested, ...' }),
    duration_ms: Type.Number({ minimum: 0 }),
    decision: Type.Optional(
      Type.Object({
        ...Verdict,
        stages: Type.Optional(
          Type.Array(Type.Object({ stage: Type.String(), ...Verdict }), {
            description: 'Every policy stage that gave a verdict, in chain order (absent when none did).',
          }),
        ),
      }),
    ),
    approval_id: Type.Optional(
      Type.String({ description: 'The approval the call waited for, or was suspended with.' }),
    ),
    usage: Type.Optional(
      Type.Object(
        {
          tokens: Type.Optional(Type.Number({ minimum: 0 })),
          cost: Type.Optional(Type.Number({ minimum: 0 })),
        },
        { description: 'What the handler reported through ctx.usage, summed over the call.' },
      ),
    ),
    parent: Type.Optional(
      Type.Object(
        { tool: Type.String(), spanId: Type.String() },
        { description: 'The call that made this one through ctx.invoke (surface nested).' },
      ),
    ),
    code: Type.Optional(Type.Union(PROBLEM_CODES.map((c) => Type.Literal(c)))),
    status: Type.Optional(Type.Integer()),
    idempotency_key: Type.Optional(Type.String()),
    step: Type.Optional(Type.String()),
    input: Type.Optional(Type.Unknown()),
    output: Type.Optional(Type.Unknown()),
    error: Type.Optional(Type.String({ description: 'Class of an internal error (never its message).' })),
  }),
})

export const daemonStarted = defineEvent({
  kind: 'daemon.started',
  version: '1.0.0',
  title: 'The daemon started',
  description: 'Written once per start, after the store opened and before the first request is served.',
  severity: 'notice',
  payload: Type.Object({
    version: Type.String(),
    pid: Type.Integer(),
    durability: Type.Union([Type.Literal('commit'), Type.Literal('fsync')]),
    journal_head: Type.Integer({
      minimum: 0,
      description: 'Last sequence id found in the journal at start.',
    }),
  }),
})

export const daemonStopped = defineEvent({
  kind: 'daemon.stopped',
  version: '1.0.0',
  title: 'The daemon stopped',
  description:
    'Written once per clean stop (SIGTERM, SIGINT, or stdin closing for an in-process arw mcp), after the last request was answered and before the store closes. A start without this event before it followed a crash or a kill.',
  severity: 'notice',
  payload: Type.Object({
    version: Type.String(),
    pid: Type.Integer(),
    uptime_s: Type.Number({ minimum: 0 }),
  }),
})

export const eventsHello = defineEvent({
  kind: 'events.hello',
  version: '1.0.0',
  journaled: false,
  title: 'SSE stream opened',
  description:
    'First frame of every /admin/events stream (no id, not journaled): what is replayed before live events follow.',
  payload: Type.Object({
    after: Type.Integer({ minimum: 0, description: 'Events with a larger id follow.' }),
    replay_from: Type.Union([Type.Integer(), Type.Null()]),
    replay_to: Type.Union([Type.Integer(), Type.Null()]),
    replayed: Type.Integer({ minimum: 0 }),
    head: Type.Integer({ minimum: 0, description: 'Journal head when the stream opened.' }),
    prefixes: Type.Array(Type.String()),
  }),
})

export const eventsGap = defineEvent({
  kind: 'events.gap',
  version: '1.1.0',
  journaled: false,
  title: 'SSE stream has a gap',
  description:
    'Sent (no id, not journaled) when a stream cannot deliver every event after last_id. reason slow_subscriber: the connection cannot keep up and the stream is closed right after; nothing is lost: reconnect with Last-Event-ID (or ?after=) set to last_id to resume from the journal. reason retention: the events from last_id + 1 to oldest - 1 were removed by journal retention (ARW_JOURNAL_RETENTION) and are gone for good; the stream goes on with oldest and every event after it.',
  severity: 'warning',
  payload: Type.Object({
    reason: Type.Union([Type.Literal('slow_subscriber'), Type.Literal('retention')]),
    last_id: Type.Integer({
      minimum: 0,
      description: 'The last id delivered on this stream (or resumed after).',
    }),
    head: Type.Integer({ minimum: 0 }),
    queued: Type.Integer({ minimum: 0, description: 'Events that were waiting when the stream was cut.' }),
    oldest: Type.Optional(
      Type.Integer({
        minimum: 1,
        description: '(retention) The oldest id kept: the next one this stream sends.',
      }),
    ),
  }),
})

export const coreEvents = [toolRan, daemonStarted, daemonStopped, eventsHello, eventsGap]
