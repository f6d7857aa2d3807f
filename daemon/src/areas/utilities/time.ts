import { ERRORS, ProblemError } from '@arw/protocol'
import { defineTool } from '@arw/registry'
import Type from 'typebox'

function validZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone })
    return true
  } catch {
    return false
  }
}

/** Offset of `zone` from UTC at `date`, as +HH:MM. */
function offsetOf(date: Date, zone: string): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    timeZoneName: 'longOffset',
  }).formatToParts(date)
  const name = parts.find((p) => p.type === 'timeZoneName')?.value ?? 'GMT'
  const match = /GMT([+-]\d{2}:\d{2})?/.exec(name)
  return match?.[1] ?? '+00:00'
}

/** Agents have no clock of their own; this one answers "what time is it" and converts instants. */
export const timeNow = defineTool({
  name: 'time.now',
  version: '1.0.0',
  title: 'Current time',
  description:
    'Returns the current instant (or a given one) as RFC 3339 UTC, Unix milliseconds, and the local wall-clock time in an IANA time zone.',
  input: Type.Object(
    {
      zone: Type.Optional(
        Type.String({ default: 'UTC', maxLength: 64, description: 'IANA time zone, e.g. Europe/Paris.' }),
      ),
      at: Type.Optional(
        Type.String({ format: 'date-time', description: 'Instant to convert instead of now (RFC 3339).' }),
      ),
    },
    { additionalProperties: false },
  ),
  output: Type.Object(
    {
      iso: Type.String({ description: 'RFC 3339 UTC.' }),
      epoch_ms: Type.Integer(),
      zone: Type.String(),
      local: Type.String({ description: 'Wall-clock time in the zone, YYYY-MM-DDTHH:MM:SS.' }),
      offset: Type.String({ description: 'UTC offset of the zone at that instant, +HH:MM.' }),
      weekday: Type.String(),
    },
    { additionalProperties: false },
  ),
  errors: ['validation_failed'],
  hints: { readOnly: true, idempotent: false, openWorld: false },
  capabilities: ['time'],
  timeoutMs: 1000,
  examples: [
    { title: 'Now, in a time zone', input: { zone: 'Europe/Paris' } },
    {
      title: 'An instant in a time zone',
      input: { zone: 'Europe/Paris', at: '2026-07-14T10:00:00Z' },
      output: {
        iso: '2026-07-14T10:00:00.000Z',
        epoch_ms: 1784023200000,
        zone: 'Europe/Paris',
        local: '2026-07-14T12:00:00',
        offset: '+02:00',
        weekday: 'Tuesday',
      },
    },
  ],
  handler: ({ zone = 'UTC', at }) => {
    if (!validZone(zone)) {
      throw new ProblemError(
        ERRORS.bad_request,
        { reason: `unknown time zone ${JSON.stringify(zone)}` },
        {
          errors: [{ pointer: '/input/zone', message: 'is not an IANA time zone', keyword: 'format' }],
        },
      )
    }
    const date = at === undefined ? new Date() : new Date(at)
    if (Number.isNaN(date.getTime())) {
      throw new ProblemError(
        ERRORS.bad_request,
        { reason: 'at is not a valid instant' },
        {
          errors: [{ pointer: '/input/at', message: 'is not an RFC 3339 date-time', keyword: 'format' }],
        },
      )
    }
    const fmt = new Intl.DateTimeFormat('en-CA', {
      timeZone: zone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    })
    const p = Object.fromEntries(fmt.formatToParts(date).map((x) => [x.type, x.value]))
    return {
      iso: date.toISOString(),
      epoch_ms: date.getTime(),
      zone,
      local: `${p['year']}-${p['month']}-${p['day']}T${p['hour']}:${p['minute']}:${p['second']}`,
      offset: offsetOf(date, zone),
      weekday: new Intl.DateTimeFormat('en-US', { timeZone: zone, weekday: 'long' }).format(date),
    }
  },
})
