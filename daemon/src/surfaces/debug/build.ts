/**
 * Builds the debug UI (web/ → assets/) with esbuild: one ES module bundle (Preact included), one
 * stylesheet and the HTML page, all served by the daemon itself, so the UI works offline.
 *
 * assets/ is generated and gitignored. `npm start` and `npm test` build it first (prestart,
 * pretest); the daemon also rebuilds it on the first /debug request when it is missing or older
 * than its sources (a fingerprint of web/ and the Preact version is kept in assets/build.json), so
 * a fresh clone, a test run of one file, or an edited source all serve what the sources say.
 *
 * Run directly (`npm run build:debug-ui`) it rebuilds unconditionally.
 */
import { createHash, randomBytes } from 'node:crypto'
import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const HERE = dirname(fileURLToPath(import.meta.url))
export const WEB_DIR = join(HERE, 'web')
export const ASSETS_DIR = join(HERE, 'assets')
const MANIFEST = 'build.json'

/** The files a build writes, served under /debug/assets/ (index.html is served at /debug). */
export const ASSET_FILES = ['index.html', 'app.js', 'app.js.map', 'app.css', 'app.css.map'] as const

/** A fingerprint of everything the bundle is made from: the web sources and the Preact version. */
export async function sourceFingerprint(): Promise<string> {
  const hash = createHash('sha256')
  const names = (await readdir(WEB_DIR)).filter((n) => !n.endsWith('.test.ts')).sort()
  for (const name of names) {
    hash.update(`${name}\0`)
    hash.update(await readFile(join(WEB_DIR, name)))
  }
  const require = createRequire(import.meta.url)
  const preact = JSON.parse(await readFile(require.resolve('preact/package.json'), 'utf8')) as {
    version: string
  }
  hash.update(`preact@${preact.version}`)
  return hash.digest('hex')
}

async function builtFingerprint(outDir: string): Promise<string | undefined> {
  try {
    const manifest = JSON.parse(await readFile(join(outDir, MANIFEST), 'utf8')) as { fingerprint?: string }
    for (const f of ASSET_FILES) await readFile(join(outDir, f))
    return manifest.fingerprint
  } catch {
    return undefined
  }
}

/**
 * Builds into a private temporary folder, then moves each file into place with rename (atomic), so
 * a concurrent reader or a second build (parallel test workers) never sees a half-written file.
 */
export async function buildDebugUi(
  outDir: string = ASSETS_DIR,
): Promise<{ fingerprint: string; files: string[] }> {
  const fingerprint = await sourceFingerprint()
  // esbuild is a build-time dependency (also tsx's): loaded only when a build is needed.
  const esbuild = await import('esbuild')
  const tmp = join(dirname(outDir), `.assets-${process.pid}-${randomBytes(4).toString('hex')}`)
  await mkdir(tmp, { recursive: true })
  try {
    await esbuild.build({
      entryPoints: [
        { in: join(WEB_DIR, 'main.tsx'), out: 'app' },
        { in: join(WEB_DIR, 'styles.css'), out: 'app' },
      ],
      outdir: tmp,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: ['chrome111', 'firefox111', 'safari16.4'],
      jsx: 'automatic',
      jsxImportSource: 'preact',
      minify: true,
      sourcemap: 'linked',
      legalComments: 'none',
      define: { 'process.env.NODE_ENV': '"production"' },
      logLevel: 'warning',
    })
    await copyFile(join(WEB_DIR, 'index.html'), join(tmp, 'index.html'))
    await writeFile(join(tmp, MANIFEST), `${JSON.stringify({ fingerprint, files: ASSET_FILES }, null, 2)}\n`)
    await mkdir(outDir, { recursive: true })
    // The manifest goes last: it claims the other files are in place.
    for (const f of [...ASSET_FILES, MANIFEST]) await rename(join(tmp, f), join(outDir, f))
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
  return { fingerprint, files: [...ASSET_FILES] }
}

/**
 * Makes sure assets/ matches the sources, building only when it does not. Where esbuild is absent
 * (an install without dev dependencies) existing assets are served as they are.
 */
export async function ensureDebugUi(outDir: string = ASSETS_DIR): Promise<'fresh' | 'built' | 'prebuilt'> {
  const built = await builtFingerprint(outDir)
  let wanted: string | undefined
  try {
    wanted = await sourceFingerprint()
  } catch {
    wanted = undefined
  }
  if (built !== undefined && (wanted === undefined || built === wanted)) return 'fresh'
  try {
    await buildDebugUi(outDir)
    return 'built'
  } catch (error) {
    if (built !== undefined) return 'prebuilt'
    throw error
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = Date.now()
  const check = process.argv.includes('--if-stale')
  const run = check
    ? ensureDebugUi().then((how) => `debug UI ${how}`)
    : buildDebugUi().then(() => 'debug UI built')
  run.then(
    (what) => console.log(`${what} in ${Date.now() - started} ms → ${ASSETS_DIR}`),
    (error: unknown) => {
      console.error('debug UI build failed:', error instanceof Error ? error.message : error)
      process.exitCode = 1
    },
  )
}
