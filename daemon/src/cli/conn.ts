import type { ArwClient } from '@arw/client'
import { CLIENT_HELP, CLIENT_OPTIONS, type CliIO, clientFor, EXIT, parse, UsageError } from './io.ts'

/**
 * `arw conn` and `arw link`: the connections area from the command line. Each subcommand calls the
 * area's tool (conn.list, conn.create, link.create, ...) through POST /tools/{id}:invoke, so it is
 * governed and recorded like any other call.
 */

export const CONN_HELP = `Usage: arw conn <ls|add|test|toggle> [options]

  arw conn ls [--json]                       connections with their status
  arw conn add <connector> --target <json>   create one (disabled): e.g.
      arw conn add local --target '{"module":"/path/to/tools.mjs"}' --id weather
    --id <id>               connection id (default: a new UUID)
    --rate <n>              rate limit, calls per second
    --concurrency <n>       calls running upstream at once
    --queue <n>             calls that may wait for a free slot (with --concurrency)
    --tag <tag>             a tag (repeat for more)
    --dry-run               only say what would be imported, under --service <id>
    --service <id>          the namespace the dry run names tools under
  arw conn test <id>                         ping the upstream: ok, status, latency, trace id
  arw conn toggle <id> [--on | --off]        enable or disable (default: flip)
  --json           print the daemon's answer as JSON
${CLIENT_HELP}
Exit status: 0 ok, 1 the daemon answered a problem (JSON on stderr), 2 usage, 3 unreachable.
`

export const CONN_OPTIONS = {
  ...CLIENT_OPTIONS,
  json: { type: 'boolean' },
  target: { type: 'string' },
  id: { type: 'string' },
  rate: { type: 'string' },
  concurrency: { type: 'string' },
  queue: { type: 'string' },
  tag: { type: 'string', multiple: true },
  'dry-run': { type: 'boolean' },
  service: { type: 'string' },
  on: { type: 'boolean' },
  off: { type: 'boolean' },
} as const

export const LINK_HELP = `Usage: arw link <ls|add|rm> [options]

  arw link ls [--connection <id>] [--json]   links with their status, health and tools
  arw link add <connection> <service> [--id <id>] [--enable]
                                             import the connection's tools as <service>.<tool>;
                                             --enable also enables the connection
  arw link rm <id>                           delete a link and its imported tools
  --json           print the daemon's answer as JSON
${CLIENT_HELP}
Exit status: 0 ok, 1 the daemon answered a problem (JSON on stderr), 2 usage, 3 unreachable.
`

export const LINK_OPTIONS = {
  ...CLIENT_OPTIONS,
  json: { type: 'boolean' },
  connection: { type: 'string' },
  id: { type: 'string' },
  enable: { type: 'boolean' },
} as const

function table(io: CliIO, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  for (const row of [header, ...rows]) {
    io.out(`${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')}\n`)
  }
}

function count(name: string, raw: string | undefined, min: number): number | undefined {
  if (raw === undefined) return undefined
  const value = Number(raw)
  if (!Number.isFinite(value) || value < min) throw new UsageError(`--${name} must be a number >= ${min}`)
  return value
}

function one(positionals: string[], from: number, what: string): string {
  const value = positionals[from]
  if (value === undefined) throw new UsageError(`missing ${what}`)
  if (positionals.length > from + 1)
    throw new UsageError(`unexpected ${JSON.stringify(positionals[from + 1])}`)
  return value
}

async function call<T>(client: ArwClient, tool: string, input: unknown): Promise<T> {
  return (await client.invoke<T>(tool, input)).output
}

interface ConnectionRow {
  id: string
  connectorId: string
  status: string
  tags: string[]
}

/** Prints an answer as JSON (--json) or as the command's text, and answers exit status 0. */
function printer(json: boolean, io: CliIO) {
  return (answer: unknown, text: () => void) => {
    if (json) io.out(`${JSON.stringify(answer, null, 2)}\n`)
    else text()
    return EXIT.ok
  }
}

export async function connCommand(args: readonly string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args, CONN_OPTIONS)
  if (values.help) {
    io.out(CONN_HELP)
    return EXIT.ok
  }
  const [sub] = positionals
  if (sub === undefined) throw new UsageError('conn needs a subcommand: ls, add, test or toggle')
  const client = () => clientFor(values, io)
  const print = printer(values.json === true, io)
  switch (sub) {
    case 'ls': {
      if (positionals.length > 1) throw new UsageError(`unexpected ${JSON.stringify(positionals[1])}`)
      const answer = await call<{ connections: ConnectionRow[] }>(client(), 'conn.list', {})
      return print(answer, () =>
        table(
          io,
          ['ID', 'CONNECTOR', 'STATUS', 'TAGS'],
          answer.connections.map((c) => [c.id, c.connectorId, c.status, c.tags.join(',')]),
        ),
      )
    }
    case 'add': {
      const connectorId = one(
        positionals,
        1,
        'the connector (see GET /connectors: local, mcp, http, ws or a custom one)',
      )
      if (values.target === undefined) throw new UsageError('conn add needs --target <json>')
      let target: unknown
      try {
        target = JSON.parse(values.target)
      } catch (error) {
        throw new UsageError(`--target is not valid JSON: ${(error as Error).message}`)
      }
      const rate = count('rate', values.rate, 0)
      const max = count('concurrency', values.concurrency, 1)
      const queue = count('queue', values.queue, 0)
      if (queue !== undefined && max === undefined) throw new UsageError('--queue needs --concurrency')
      const input = {
        connectorId,
        target,
        ...(values.id !== undefined ? { id: values.id } : {}),
        ...(rate !== undefined ? { rateLimit: { perSecond: rate } } : {}),
        ...(max !== undefined ? { concurrency: { max, ...(queue !== undefined ? { queue } : {}) } } : {}),
        ...(values.tag ? { tags: values.tag } : {}),
        ...(values['dry-run'] ? { dry_run: true } : {}),
        ...(values.service !== undefined ? { serviceId: values.service } : {}),
      }
      const answer = await call<{
        dry_run: boolean
        connection: ConnectionRow
        preview?: { tools: Array<{ name: string }>; rejected: Array<{ upstream: string; reason: string }> }
      }>(client(), 'conn.create', input)
      return print(answer, () => {
        if (answer.preview) {
          for (const t of answer.preview.tools) io.out(`would import ${t.name}\n`)
          for (const r of answer.preview.rejected) io.out(`would refuse ${r.upstream}: ${r.reason}\n`)
        } else io.out(`${answer.connection.id} ${answer.connection.status}\n`)
      })
    }
    case 'test': {
      const id = one(positionals, 1, 'the connection id')
      const answer = await call<{
        ok: boolean
        status: string
        latencyMs: number | null
        error: string | null
        trace_id: string
      }>(client(), 'conn.test', { id })
      print(answer, () =>
        io.out(
          `${answer.ok ? 'ok' : 'failed'} ${answer.status} ${answer.latencyMs ?? '-'} ms trace ${answer.trace_id}${answer.error ? `: ${answer.error}` : ''}\n`,
        ),
      )
      return answer.ok ? EXIT.ok : EXIT.problem
    }
    case 'toggle': {
      const id = one(positionals, 1, 'the connection id')
      if (values.on && values.off) throw new UsageError('--on and --off exclude each other')
      const enabled = values.on ? true : values.off ? false : undefined
      const answer = await call<{ connection: ConnectionRow }>(client(), 'conn.toggle', {
        id,
        ...(enabled !== undefined ? { enabled } : {}),
      })
      return print(answer, () => io.out(`${answer.connection.id} ${answer.connection.status}\n`))
    }
    default:
      throw new UsageError(`unknown conn subcommand ${JSON.stringify(sub)} (ls, add, test, toggle)`)
  }
}

interface LinkRow {
  id: string
  connectionId: string
  serviceId: string
  status: string
  health: { ok: boolean; errors: string[] }
  tools: string[]
}

export async function linkCommand(args: readonly string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args, LINK_OPTIONS)
  if (values.help) {
    io.out(LINK_HELP)
    return EXIT.ok
  }
  const [sub] = positionals
  if (sub === undefined) throw new UsageError('link needs a subcommand: ls, add or rm')
  const client = () => clientFor(values, io)
  const print = printer(values.json === true, io)
  switch (sub) {
    case 'ls': {
      if (positionals.length > 1) throw new UsageError(`unexpected ${JSON.stringify(positionals[1])}`)
      const answer = await call<{ links: LinkRow[] }>(client(), 'link.list', {
        ...(values.connection !== undefined ? { connectionId: values.connection } : {}),
      })
      return print(answer, () =>
        table(
          io,
          ['ID', 'CONNECTION', 'SERVICE', 'STATUS', 'HEALTH', 'TOOLS'],
          answer.links.map((l) => [
            l.id,
            l.connectionId,
            l.serviceId,
            l.status,
            l.health.ok ? 'ok' : 'failing',
            String(l.tools.length),
          ]),
        ),
      )
    }
    case 'add': {
      const connectionId = positionals[1]
      const serviceId = positionals[2]
      if (connectionId === undefined || serviceId === undefined)
        throw new UsageError('link add needs <connection> <service>')
      if (positionals.length > 3) throw new UsageError(`unexpected ${JSON.stringify(positionals[3])}`)
      const answer = await call<{ link: LinkRow }>(client(), 'link.create', {
        connectionId,
        serviceId,
        ...(values.id !== undefined ? { id: values.id } : {}),
        ...(values.enable ? { autoEnable: true } : {}),
      })
      return print(answer, () => {
        io.out(`${answer.link.id} ${answer.link.status}\n`)
        for (const tool of answer.link.tools) io.out(`  ${tool}\n`)
        for (const error of answer.link.health.errors) io.out(`  ! ${error}\n`)
      })
    }
    case 'rm': {
      const id = one(positionals, 1, 'the link id')
      const answer = await call<{ id: string; tools: string[] }>(client(), 'link.delete', { id })
      return print(answer, () => io.out(`removed ${answer.id} (${answer.tools.length} tools)\n`))
    }
    default:
      throw new UsageError(`unknown link subcommand ${JSON.stringify(sub)} (ls, add, rm)`)
  }
}
