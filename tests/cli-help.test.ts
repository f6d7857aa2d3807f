import type { ParseArgsConfig } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BACKUP_OPTIONS } from '../daemon/src/cli/backup.ts'
import { CONN_OPTIONS, LINK_OPTIONS } from '../daemon/src/cli/conn.ts'
import { EVENTS_OPTIONS } from '../daemon/src/cli/events.ts'
import { INVOKE_OPTIONS } from '../daemon/src/cli/invoke.ts'
import { EXIT } from '../daemon/src/cli/io.ts'
import { HELP, MCP_OPTIONS } from '../daemon/src/cli/main.ts'
import { SPEC_OPTIONS } from '../daemon/src/cli/spec.ts'
import { START_OPTIONS } from '../daemon/src/cli/start.ts'
import { TOOLS_OPTIONS } from '../daemon/src/cli/tools.ts'
import { type TestDaemon, testDaemon } from '../daemon/src/testing/harness.ts'
import { runArw } from './support/cli.ts'

/**
 * Every command's --help against what its parser accepts: each flag the help lists is accepted
 * (with a value when the parser wants one), and each option the parser accepts is in the help.
 */
type Options = NonNullable<ParseArgsConfig['options']>
const PARSERS: Record<string, Options> = {
  start: START_OPTIONS,
  tools: TOOLS_OPTIONS,
  invoke: INVOKE_OPTIONS,
  events: EVENTS_OPTIONS,
  spec: SPEC_OPTIONS,
  mcp: MCP_OPTIONS,
  backup: BACKUP_OPTIONS,
  conn: CONN_OPTIONS,
  link: LINK_OPTIONS,
}

let d: TestDaemon
let base: string
beforeAll(async () => {
  d = await testDaemon()
  base = await d.listen()
})
afterAll(() => d.close())

const arw = (args: string[], signal?: AbortSignal) =>
  runArw(args, { ARW_URL: base, ARW_ADMIN_TOKEN: d.admin['x-arw-admin'] }, signal)

/** The flags a help text lists: `--name` and one-letter `-x` tokens (not `openssl rand -hex`). */
function flagsIn(help: string): string[] {
  return [...new Set([...help.matchAll(/(?<![\w@-])(--[a-z][a-z-]*|-[a-z](?![\w-]))/g)].map((m) => m[1]!))]
}

/** A value each option taking one is tried with (one the daemon accepts where it matters). */
function valueFor(name: string): string {
  const values: Record<string, string> = {
    url: 'http://127.0.0.1:8090',
    input: '{"text":"help"}',
    replay: '1',
    after: '0',
    prefix: 'tool.',
    token: 'x',
    'api-key': 'x',
  }
  return values[name] ?? 'value'
}

/** What parseArgs says when help and parser disagree. */
const PARSER_REFUSED = /Unknown option|argument missing|does not take an argument/

describe('arw --help and the parsers agree', () => {
  it('the top-level help lists every command, and its own flags work', async () => {
    const listed = [...HELP.slice(HELP.indexOf('Commands:')).matchAll(/^ {2}([a-z]+) {2,}/gm)].map(
      (m) => m[1]!,
    )
    expect(listed.sort()).toEqual(Object.keys(PARSERS).sort())
    for (const flag of flagsIn(HELP.slice(HELP.indexOf('Options:'), HELP.indexOf("'arw <command>")))) {
      const r = await arw([flag])
      expect(r.code, `arw ${flag}`).toBe(EXIT.ok)
    }
  })

  for (const [command, options] of Object.entries(PARSERS)) {
    it(`arw ${command}: each flag --help lists is accepted, each accepted option is listed`, async () => {
      const help = await arw([command, '--help'])
      expect(help.code).toBe(EXIT.ok)
      const listed = flagsIn(help.out)
      for (const [name, option] of Object.entries(options)) {
        expect(listed, `${command} --help lists --${name}`).toContain(`--${name}`)
        if (option.short)
          expect(listed, `${command} --help lists -${option.short}`).toContain(`-${option.short}`)
      }
      for (const flag of listed) {
        const name = flag.startsWith('--')
          ? flag.slice(2)
          : Object.entries(options).find(([, o]) => `-${o.short}` === flag)?.[0]
        expect(name && name in options, `${command} accepts ${flag} (listed in its --help)`).toBe(true)
        const args = options[name!]!.type === 'string' ? [flag, valueFor(name!)] : [flag]
        // A long-running command (--follow) is stopped as Ctrl-C would.
        const r = await arw(
          [command, ...(command === 'invoke' ? ['demo.echo'] : []), ...args],
          AbortSignal.timeout(300),
        )
        expect(r.err, `arw ${command} ${args.join(' ')}`).not.toMatch(PARSER_REFUSED)
      }
    })
  }
})
