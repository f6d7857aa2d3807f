import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '../../..')
const SCANNED = ['crates-ts', 'daemon', 'docgen', 'doc-tests', 'bench', 'tests']

/** Every TypeScript and JavaScript source of the repository (node_modules and generated files aside). */
function sources(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    // node_modules, generated bundles (debug UI assets, the packaged build in dist/) and dot folders.
    if (['node_modules', 'assets', 'dist'].includes(entry.name) || entry.name.startsWith('.')) continue
    const path = join(dir, entry.name)
    if (entry.isDirectory()) sources(path, out)
    else if (/\.(m|c)?[jt]sx?$/.test(entry.name)) out.push(path)
  }
  return out
}

/** The files that import `module` (static, dynamic, or require). */
function importersOf(module: string): string[] {
  const pattern = new RegExp(
    String.raw`(?:from\s+|import\s*\(\s*|require\s*\(\s*|import\s+)['"]${module}(?:/[^'"]*)?['"]`,
  )
  return SCANNED.flatMap((dir) => sources(join(ROOT, dir)))
    .filter((file) => pattern.test(readFileSync(file, 'utf8')))
    .map((file) => relative(ROOT, file))
}

describe('storage backends stay behind the port', () => {
  it('imports lmdb only in the LMDB backend', () => {
    const outside = importersOf('lmdb').filter((file) => !file.startsWith('crates-ts/store/src/lmdb/'))
    expect(outside).toEqual([])
    // The check itself finds what it looks for.
    expect(importersOf('lmdb')).toContain('crates-ts/store/src/lmdb/backend.ts')
  })

  it('imports the PostgreSQL client only in the PostgreSQL backend', () => {
    const outside = importersOf('pg').filter((file) => !file.startsWith('crates-ts/store/src/postgres/'))
    expect(outside).toEqual([])
    expect(importersOf('pg')).toContain('crates-ts/store/src/postgres/backend.ts')
  })
})
