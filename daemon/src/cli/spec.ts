import type { SpecName } from '@arw/client'
import { CLIENT_HELP, CLIENT_OPTIONS, type CliIO, clientFor, EXIT, parse, UsageError } from './io.ts'

export const SPEC_HELP = `Usage: arw spec [openapi | asyncapi | mcp] [--offline]

Prints a spec document: OpenAPI 3.1 (default), AsyncAPI 3.0 or the MCP tool catalog.
  --offline        build it from this checkout's registry instead of asking a running daemon
${CLIENT_HELP}
`

const FILES: Record<string, SpecName> = {
  openapi: 'openapi.yaml',
  asyncapi: 'asyncapi.yaml',
  mcp: 'mcp-tools.json',
}

export const SPEC_OPTIONS = { ...CLIENT_OPTIONS, offline: { type: 'boolean' } } as const

export async function specCommand(args: readonly string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args, SPEC_OPTIONS)
  if (values.help) {
    io.out(SPEC_HELP)
    return EXIT.ok
  }
  if (positionals.length > 1) throw new UsageError('spec takes one document name')
  const file = FILES[positionals[0] ?? 'openapi']
  if (!file)
    throw new UsageError(`unknown spec ${JSON.stringify(positionals[0])}: use openapi, asyncapi or mcp`)
  if (values.offline) {
    const { specFiles } = await import('@arw/spec')
    const { createRegistry, servedAreas } = await import('../registry.ts')
    const { routeDocs } = await import('../routes.ts')
    const { loadConfig } = await import('../config.ts')
    const { DAEMON_VERSION } = await import('../version.ts')
    const files = specFiles({
      registry: createRegistry(),
      routes: routeDocs(servedAreas(loadConfig({}))),
      version: DAEMON_VERSION,
    })
    io.out(files.get(file) ?? '')
    return EXIT.ok
  }
  io.out(await clientFor(values, io).spec(file))
  return EXIT.ok
}
