import { CLIENT_HELP, CLIENT_OPTIONS, type CliIO, clientFor, EXIT, parse, UsageError } from './io.ts'

export const EVENTS_HELP = `Usage: arw events [--replay N | --after ID] [--prefix a,b] [--follow] [--notices]

Prints journal events from a running daemon, one JSON object per line.
Without --follow, prints what was replayed and exits; with --follow, keeps printing live events
(reconnecting and resuming after the last id seen, so nothing is missed) until interrupted
(Ctrl-C or SIGTERM: exit status 0). A daemon that cannot be reached is reported on stderr at once
and tried again, waiting 0.25 s, then twice as long each time, up to 10 s.
  --replay N       the last N events first
  --after ID       every event after sequence id ID
  --prefix a,b     only kinds starting with a or b (e.g. tool.)
  --follow, -f     keep streaming live events
  --notices        also print stream notices (events.hello, events.gap)
${CLIENT_HELP}
`

export const EVENTS_OPTIONS = {
  ...CLIENT_OPTIONS,
  replay: { type: 'string' },
  after: { type: 'string' },
  prefix: { type: 'string' },
  follow: { type: 'boolean', short: 'f' },
  notices: { type: 'boolean' },
} as const

export async function eventsCommand(args: readonly string[], io: CliIO): Promise<number> {
  const { values } = parse(args, EVENTS_OPTIONS, false)
  if (values.help) {
    io.out(EVENTS_HELP)
    return EXIT.ok
  }
  const replay = count(values.replay, '--replay')
  const after = count(values.after, '--after')
  if (replay !== undefined && after !== undefined) throw new UsageError('use --replay or --after, not both')
  if (!values.follow && replay === undefined && after === undefined) {
    throw new UsageError('events needs --replay N, --after ID or --follow')
  }
  const controller = new AbortController()
  io.signal?.addEventListener('abort', () => controller.abort(), { once: true })
  const client = clientFor(values, io)
  let replayTo: number | null | undefined
  let unreachable = false
  for await (const event of client.events({
    ...(replay !== undefined ? { replay } : {}),
    ...(after !== undefined ? { after } : {}),
    ...(values.prefix ? { prefix: values.prefix.split(',').filter(Boolean) } : {}),
    reconnect: values.follow === true,
    signal: controller.signal,
    onUnreachable: (error, retryInMs) => {
      unreachable = true
      io.err(`arw: ${error.message}; trying again in ${retryInMs / 1000} s\n`)
    },
  })) {
    if (event.kind === 'events.hello' && unreachable) {
      unreachable = false
      io.err(`arw: connected to ${client.baseUrl}\n`)
    }
    if (event.kind === 'events.hello' && replayTo === undefined) {
      replayTo = (event.payload as { replay_to: number | null }).replay_to
      if (values.notices) io.out(`${JSON.stringify(event)}\n`)
      if (!values.follow && (replayTo === null || replayTo <= (after ?? 0))) break
      continue
    }
    if (event.id === undefined && !values.notices) continue
    io.out(`${JSON.stringify(event)}\n`)
    if (!values.follow && replayTo != null && event.id !== undefined && event.id >= replayTo) break
  }
  controller.abort()
  return EXIT.ok
}

function count(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined) return undefined
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`${name} must be a whole number, got ${JSON.stringify(raw)}`)
  return n
}
