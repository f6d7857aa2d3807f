import { type CliIO, EXIT, parse, report, UsageError } from './io.ts'

export const HELP = `Usage: arw <command> [options]

Commands:
  start       run the daemon (configuration from ARW_* environment variables)
  tools       list the tools of a running daemon
  invoke      run a tool: arw invoke demo.echo --input '{"text":"hi"}'
  events      print journal events: --replay N, --after ID, --follow
  conn        connections to upstream services: ls, add, test, toggle
  link        links that import a connection's tools: ls, add, rm
  spec        print OpenAPI, AsyncAPI or the MCP tool catalog
  mcp         serve MCP over stdin/stdout (for clients that spawn their servers)
  backup      copy a consistent, compacted snapshot of the store: arw backup <dir>

Options:
  -v, --version   print the version
  -h, --help      this help

'arw <command> --help' describes each. Commands that talk to a daemon take --url (else $ARW_URL,
else $BASE when it is an http(s) URL, else http://127.0.0.1:8090), --token (default
$ARW_ADMIN_TOKEN, sent as X-ARW-Admin) and --api-key (default $ARW_API_KEY, sent as
Authorization: Bearer).

Exit status: 0 ok; 1 the daemon answered a problem (printed as JSON on stderr); 2 usage error;
3 the daemon could not be reached; 4 invalid configuration or the daemon could not start.
`

const MCP_HELP = `Usage: arw mcp [-h | --help]

Serves MCP over stdin/stdout: the same tools, schemas and governed pipeline as /mcp. When a daemon
runs on ARW_STATE_DIR, every message is forwarded to that daemon's /mcp (it journals the calls);
otherwise the daemon runs in-process on ARW_STATE_DIR until stdin closes. Logs go to stderr. For a
client's config file:
  {"command": "arw", "args": ["mcp"]}                                   (arw installed)
  {"command": "node", "args": ["/path/to/clone/daemon/bin/arw.js", "mcp"]}  (a clone)
Exit status: 4 when the state directory is unusable or held by another in-process arw mcp.
`

export const MCP_OPTIONS = { help: { type: 'boolean', short: 'h' } } as const

type Command = (args: readonly string[], io: CliIO) => Promise<number>

// Each command is loaded when it runs: `arw tools` or `arw --version` must not pay for loading the
// daemon (Fastify, LMDB, the registry) that only `start` and `mcp` need.
const COMMANDS: Record<string, Command> = {
  start: async (args, io) => (await import('./start.ts')).startCommand(args, io),
  tools: async (args, io) => (await import('./tools.ts')).toolsCommand(args, io),
  invoke: async (args, io) => (await import('./invoke.ts')).invokeCommand(args, io),
  events: async (args, io) => (await import('./events.ts')).eventsCommand(args, io),
  spec: async (args, io) => (await import('./spec.ts')).specCommand(args, io),
  conn: async (args, io) => (await import('./conn.ts')).connCommand(args, io),
  link: async (args, io) => (await import('./conn.ts')).linkCommand(args, io),
  backup: async (args, io) => (await import('./backup.ts')).backupCommand(args, io),
  mcp: async (args, io) => {
    const { values } = parse(args, MCP_OPTIONS, false)
    if (values.help) {
      io.out(MCP_HELP)
      return EXIT.ok
    }
    const { runMcp } = await import('./mcp.ts')
    try {
      await runMcp({ env: io.env })
    } catch (error) {
      io.err(`arw: cannot serve MCP: ${error instanceof Error ? error.message : String(error)}\n`)
      return EXIT.config
    }
    return EXIT.ok
  },
}

/** Runs the `arw` command line; returns the exit code (never exits, so tests drive it in-process). */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  const [name, ...args] = argv
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      io.out(HELP)
      return name === undefined ? EXIT.usage : EXIT.ok
    }
    if (name === '--version' || name === '-v') {
      const { DAEMON_VERSION } = await import('../version.ts')
      io.out(`${DAEMON_VERSION}\n`)
      return EXIT.ok
    }
    const command = COMMANDS[name]
    if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}`)
    return await command(args, io)
  } catch (error) {
    return report(error, io)
  }
}
