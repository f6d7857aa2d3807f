import { readFile, writeFile } from 'node:fs/promises'
import { isAbsolute, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { Registry } from '@arw/registry'
import { RegistryError } from '@arw/registry'
import { type CompatLock, checkCompat, compatLock, compatLockText, SpecError, specFiles } from '@arw/spec'
import { checkSpec, writeSpec } from './spec-dir.ts'

/** The spec/ directory at the repository root, wherever docgen is run from. */
export const DEFAULT_SPEC_DIR = fileURLToPath(new URL('../../spec/', import.meta.url))

export const EXIT = {
  ok: 0,
  stale: 1,
  usage: 2,
  invalid: 3,
  failed: 4,
  /** (--compat) the registry breaks the released baseline without the version bump it needs. */
  incompatible: 5,
} as const

/** The released baseline the compatibility guard compares with, inside the spec directory. */
export const COMPAT_LOCK = 'compat.lock.json'

export const HELP = `Usage: npm run docgen -- [--check] [--compat | --compat-update] [--dir <path>]
       tsx docgen/src/cli.ts [--check] [--compat | --compat-update] [--dir <path>]

Builds the daemon's full registry and route list without starting a server, and writes spec/:
openapi.yaml, asyncapi.yaml, mcp-tools.json and schemas/<name>@<version>.json. Unchanged files are
left untouched; schema files of tool versions that no longer exist are deleted. Files docgen does not
generate (such as spec/compat.lock.json) are never touched.

Options:
  --check       Regenerate in memory and compare with spec/ byte for byte; write nothing.
  --compat      Compare the registry with the released baseline, spec/compat.lock.json: a released
                version may not disappear or change; a new version must be a new major for a
                breaking change (narrower input, wider output) and at least a new minor for an
                additive one. Every violation is listed with what to do.
  --compat-update
                Record the current registry as the released baseline (do this when releasing).
  --dir <path>  The spec directory (default: spec/ at the repository root).
  -h, --help    Show this help.

Exit codes:
  0  spec/ was written, or (--check) it is up to date
  1  (--check) spec/ is out of date; every stale, missing or extra file is listed
  2  usage error
  3  the declarations cannot be documented; every problem is listed
  4  any other failure (e.g. the spec directory cannot be read or written)
  5  (--compat) a schema change without the version bump it needs
`

/** What docgen documents: the generated files and what they were generated from. */
export interface Generated {
  files: Map<string, string>
  /** The registry documented (the compatibility guard reads it). */
  registry?: Registry
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
    registry,
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
  let options: { check: boolean; compat: boolean; compatUpdate: boolean; dir: string; help: boolean }
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: {
        check: { type: 'boolean', default: false },
        compat: { type: 'boolean', default: false },
        'compat-update': { type: 'boolean', default: false },
        dir: { type: 'string', default: DEFAULT_SPEC_DIR },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    })
    options = {
      check: values.check,
      compat: values.compat,
      compatUpdate: values['compat-update'],
      dir: values.dir,
      help: values.help,
    }
    if (options.compat && options.compatUpdate) throw new Error('use --compat or --compat-update, not both')
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

  if (options.compat || options.compatUpdate) {
    const code = await compat(options.dir, generated, options.compatUpdate, label, deps)
    if (code !== EXIT.ok || !options.check) return code
  }

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

/** The compatibility guard: checks the registry against spec/compat.lock.json, or records it there. */
async function compat(
  dir: string,
  generated: Generated,
  update: boolean,
  label: (path: string) => string,
  deps: MainDeps,
): Promise<number> {
  if (!generated.registry) {
    deps.err('docgen: the compatibility guard needs the registry')
    return EXIT.failed
  }
  const path = join(dir, COMPAT_LOCK)
  if (update) {
    await writeFile(path, compatLockText(generated.registry))
    deps.out(
      `wrote   ${label(COMPAT_LOCK)} (${plural(generated.registry.tools().length, 'released tool version')})`,
    )
    return EXIT.ok
  }
  let baseline: CompatLock
  try {
    baseline = JSON.parse(await readFile(path, 'utf8')) as CompatLock
  } catch (error) {
    deps.err(`docgen: cannot read the released baseline ${label(COMPAT_LOCK)}: ${(error as Error).message}`)
    deps.err('docgen: record one with: npm run docgen -- --compat-update')
    return EXIT.failed
  }
  const violations = checkCompat(baseline, compatLock(generated.registry))
  if (violations.length === 0) {
    deps.out(
      `docgen: the registry is compatible with ${label(COMPAT_LOCK)} (${plural(Object.keys(baseline.tools).length, 'released tool version')})`,
    )
    return EXIT.ok
  }
  for (const v of violations) deps.err(`incompatible ${v.tool}: ${v.message}`)
  deps.err(
    `docgen: ${plural(violations.length, 'compatibility violation')} against ${label(COMPAT_LOCK)}. After a deliberate release, record the new baseline with: npm run docgen -- --compat-update`,
  )
  return EXIT.incompatible
}
