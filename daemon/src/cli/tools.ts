import { CLIENT_HELP, CLIENT_OPTIONS, type CliIO, clientFor, EXIT, parse } from './io.ts'

export const TOOLS_HELP = `Usage: arw tools [--json] [--all]

Lists the tools of a running daemon: by default the version each bare name resolves to.
  --json           the full listing as JSON
  --all            every version, not only the current ones
${CLIENT_HELP}
`

export const TOOLS_OPTIONS = {
  ...CLIENT_OPTIONS,
  json: { type: 'boolean' },
  all: { type: 'boolean' },
} as const

export async function toolsCommand(args: readonly string[], io: CliIO): Promise<number> {
  const { values } = parse(args, TOOLS_OPTIONS, false)
  if (values.help) {
    io.out(TOOLS_HELP)
    return EXIT.ok
  }
  const tools = (await clientFor(values, io).tools()).filter((t) => values.all || t.current)
  if (values.json) {
    io.out(`${JSON.stringify(tools, null, 2)}\n`)
    return EXIT.ok
  }
  const rows = tools.map((t) => [t.id, t.stability, t.risk, t.title])
  const header = ['ID', 'STABILITY', 'RISK', 'TITLE']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  for (const row of [header, ...rows]) {
    io.out(`${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')}\n`)
  }
  return EXIT.ok
}
