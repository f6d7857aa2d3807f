import { isAbsolute, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { RegistryError } from '@arw/registry'
import { SpecError, specFiles } from '@arw/spec'
import { checkSpec, writeSpec } from './spec-dir.ts'

/** The spec/ directory at the repository root, wherever docgen is run from. */
export const DEFAULT_SPEC_DIR = fileURLToPath(new URL('../../spec/', import.meta.url))

export const EXIT = {
  ok: 0,
  stale: 1,
  usage: 2,
  invalid: 3,
  failed: 4,
} as const

export const HELP = `Usage: npm run docgen -- [--check] [--dir <path>]
       tsx docgen/src/cli.ts [--check] [--dir <path>]

Builds the daemon's full registry and route list without starting a server, and writes spec/:
openapi.yaml, asyncapi.yaml, mcp-tools.json and schemas/<name>@<version>.json. Unchanged files are
left untouched; schema files of tool versions that no longer exist are deleted. Files docgen does not
generate (such as spec/compat.lock.json) are never touched.

Options:
  --check       Regenerate in memory and compare with spec/ byte for byte; write nothing.
  --dir <path>  The spec directory (default: spec/ at the repository root).
  -h, --help    Show this help.

Exit codes:
  0  spec/ was written, or (--check) it is up to date
  1  (--check) spec/ is out of date; every stale, missing or extra file is listed
  2  usage error
  3  the declarations cannot be documented; every problem is listed
  4  any other failure (e.g. the spec directory cannot be read or written)
`

/** What docgen documents: the generated files and what they were generated from. */
export interface Generated {
  files: Map<string, string>
  tools: number
  events: number
  routes: number
}

export interface MainDeps {
  generate(): Promise<Generated>
  out(line: string): void
  err(line: string): void
  /** Directory paths are printed relative to this. */
  cwd: string
}

/** The product's declarations, imported only when needed so `--help` works even if they do not load. */
export async function generateFromDaemon(): Promise<Generated> {
  const { createRegistry, routeDocs, DAEMON_VERSION } = await import('@arw/daemon')
  const registry = createRegistry()
  const routes = routeDocs()
  return {
    files: specFiles({ registry, routes, version: DAEMON_VERSION }),
    tools: registry.tools().length,
    events: registry.events().length,
    routes: routes.length,
  }
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`
}

/** Runs docgen; returns the exit code instead of exiting, so tests can drive it. */
export async function main(argv: readonly string[], deps: MainDeps): Promise<number> {
  let options: { check: boolean; dir: string; help: boolean }
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: {
        check: { type: 'boolean', default: false },
        dir: { type: 'string', default: DEFAULT_SPEC_DIR },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    })
    options = { check: values.check, dir: values.dir, help: values.help }
  } catch (error) {
    deps.err(`docgen: ${(error as Error).message}`)
    deps.err('Run with --help for usage.')
    return EXIT.usage
  }
  if (options.help) {
    deps.out(HELP.trimEnd())
    return EXIT.ok
  }
  // Short paths in messages when the directory is under the working directory, absolute otherwise.
  const near = relative(deps.cwd, options.dir)
  const outside = near.split(/[\\/]/)[0] === '..' || isAbsolute(near)
  const shown = (outside ? resolve(options.dir) : near || '.').replace(/[\\/]+$/, '')
  const label = (path: string) => `${shown}/${path}`

  let generated: Generated
  try {
    generated = await deps.generate()
  } catch (error) {
    if (error instanceof SpecError || error instanceof RegistryError) {
      deps.err(`docgen: ${error.message}`)
      return EXIT.invalid
    }
    deps.err(`docgen: could not build the declarations: ${(error as Error).stack ?? String(error)}`)
    return EXIT.failed
  }
  const source = `${plural(generated.tools, 'tool version')}, ${plural(generated.events, 'event kind')}, ${plural(generated.routes, 'route')}`

  try {
    if (options.check) {
      const drift = await checkSpec(options.dir, generated.files)
      if (drift.length === 0) {
        deps.out(`docgen: ${shown}/ is up to date (${plural(generated.files.size, 'file')} from ${source})`)
        return EXIT.ok
      }
      for (const entry of drift) deps.err(`${entry.kind.padEnd(7)} ${label(entry.path)}`)
      deps.err(`docgen: ${shown}/ is out of date (${plural(drift.length, 'file')}); run: npm run docgen`)
      return EXIT.stale
    }
    const summary = await writeSpec(options.dir, generated.files)
    for (const path of summary.written) deps.out(`wrote   ${label(path)}`)
    for (const path of summary.removed) deps.out(`removed ${label(path)}`)
    deps.out(
      `docgen: ${shown}/ has ${plural(generated.files.size, 'generated file')} from ${source}: ${summary.written.length} written, ${summary.removed.length} removed, ${summary.unchanged} unchanged`,
    )
    return EXIT.ok
  } catch (error) {
    deps.err(`docgen: ${(error as Error).message}`)
    return EXIT.failed
  }
}
