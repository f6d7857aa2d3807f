/**
 * The build step: compiles the `arw` command into daemon/dist/ so that it runs as plain JavaScript
 * (tsx compiling TypeScript at every start cost seconds; MCP clients start their servers often).
 *
 *   dist/cli.js    daemon/src/cli.ts and everything it imports, the workspace packages under
 *                  crates-ts/ included, in one ES module; npm packages stay external (lmdb has
 *                  native parts, and the published package installs them as its dependencies)
 *   dist/assets/   the debug UI (the daemon finds it next to the code that serves it), with the
 *                  license of Preact, which its bundle includes
 *
 * `npm ci` and `npm pack` run it (the root `prepare` script); the test suite runs it first too
 * (vitest globalSetup), so daemon/bin/arw.js never runs code older than the sources under test.
 * Each output is written to a private temporary folder and renamed into place, so a process
 * starting meanwhile never loads half a file.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { copyFile, mkdir, rename, rm } from 'node:fs/promises'
import { builtinModules, createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, type Plugin } from 'esbuild'
import { buildDebugUi } from './src/surfaces/debug/build.ts'

const HERE = dirname(fileURLToPath(import.meta.url))
export const DIST_DIR = join(HERE, 'dist')
const ROOT_PACKAGE = join(HERE, '..', 'package.json')

/**
 * Packages the code imports only when a development checkout needs them (esbuild rebuilds the
 * debug UI from its sources, which a package does not ship): not runtime dependencies.
 */
const DEVELOPMENT_ONLY = new Set(['esbuild'])

/** The package a bare import names: `typebox/compile` → `typebox`, `@a/b/c` → `@a/b`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!
}

/** Keeps every npm package out of the bundle; the workspace packages (@arw/*) go in. */
const externalNpmPackages: Plugin = {
  name: 'external-npm-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('@arw/') || args.path.startsWith('node:')) return undefined
      return { path: args.path, external: true }
    })
  },
}

export async function buildDaemon(outDir: string = DIST_DIR): Promise<{ externals: string[] }> {
  const tmp = join(dirname(outDir), `.dist-${process.pid}-${randomBytes(4).toString('hex')}`)
  await mkdir(tmp, { recursive: true })
  try {
    const result = await build({
      entryPoints: [join(HERE, 'src', 'cli.ts')],
      outdir: tmp,
      // A command loads only what it runs (`arw --version` does not load Fastify and LMDB): each
      // dynamic import becomes its own file, shared code goes to chunk files.
      splitting: true,
      // Chunks sit beside cli.js: code that finds files from import.meta.url (the version, the debug
      // UI's assets) sees the same folder whichever chunk it landed in.
      chunkNames: '[name]-[hash]',
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      plugins: [externalNpmPackages],
      // Readable stack traces in bug reports: names kept, nothing minified.
      keepNames: true,
      legalComments: 'none',
      metafile: true,
      logLevel: 'warning',
    })
    const externals = checkDependencies(result.metafile)
    await buildDebugUi(join(tmp, 'assets'))
    // The debug UI's bundle includes Preact (MIT), whose license must travel with every copy.
    const preact = dirname(createRequire(import.meta.url).resolve('preact/package.json'))
    await copyFile(join(preact, 'LICENSE'), join(tmp, 'assets', 'preact.LICENSE'))
    // Replace the previous build as a whole: a removed file must not linger in dist/.
    const old = `${outDir}.old-${process.pid}-${randomBytes(4).toString('hex')}`
    await rename(outDir, old).catch(() => undefined)
    await rename(tmp, outDir)
    await rm(old, { recursive: true, force: true })
    return { externals }
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
}

/**
 * Every npm package the bundle imports must be a runtime dependency of the root package, which is
 * what `npm install -g arw` installs: a package found only in devDependencies would work in a
 * checkout and fail after install.
 */
function checkDependencies(metafile: import('esbuild').Metafile): string[] {
  const declared = new Set(
    Object.keys(
      (JSON.parse(readFileSync(ROOT_PACKAGE, 'utf8')) as { dependencies?: Record<string, string> })
        .dependencies ?? {},
    ),
  )
  const builtins = new Set(builtinModules)
  const externals = new Set<string>()
  for (const output of Object.values(metafile.outputs)) {
    for (const imported of output.imports) {
      if (!imported.external || imported.path.startsWith('node:') || builtins.has(imported.path)) continue
      externals.add(packageOf(imported.path))
    }
  }
  const missing = [...externals].filter((p) => !declared.has(p) && !DEVELOPMENT_ONLY.has(p))
  if (missing.length > 0) {
    throw new Error(
      `the daemon imports ${missing.join(', ')}, not in package.json "dependencies": an installed arw would not find it`,
    )
  }
  return [...externals].sort()
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = Date.now()
  buildDaemon().then(
    ({ externals }) =>
      console.log(`arw: built daemon/dist in ${Date.now() - started} ms (external: ${externals.join(', ')})`),
    (error: unknown) => {
      console.error(`arw: build failed: ${error instanceof Error ? error.message : String(error)}`)
      process.exitCode = 1
    },
  )
}
