import { randomBytes } from 'node:crypto'
import type { Dirent } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { parseToolRef } from '@arw/registry'
import { SCHEMAS_DIR } from '@arw/spec'

/** How one file of spec/ differs from what the declarations generate. */
export interface Drift {
  kind: 'stale' | 'missing' | 'extra'
  /** Path relative to the spec directory, with `/` separators. */
  path: string
}

export interface WriteSummary {
  written: string[]
  removed: string[]
  unchanged: number
}

/**
 * Whether docgen owns a file it finds under spec/schemas/: a name of the form `<tool id>.json`
 * is one docgen wrote for some tool version. Anything else there, and every file elsewhere in
 * spec/ that is not generated now (compat.lock.json, a README), belongs to people and is never
 * reported or removed.
 */
export function isGeneratedSchemaFile(name: string): boolean {
  if (!name.endsWith('.json')) return false
  return parseToolRef(name.slice(0, -'.json'.length))?.version !== undefined
}

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

/** Generated schema files present on disk that the declarations no longer produce. */
async function extraSchemaFiles(dir: string, files: ReadonlyMap<string, string>): Promise<string[]> {
  let entries: Dirent[]
  try {
    entries = await readdir(join(dir, SCHEMAS_DIR), { withFileTypes: true })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
  return entries
    .filter((entry) => entry.isFile() && isGeneratedSchemaFile(entry.name))
    .map((entry) => `${SCHEMAS_DIR}/${entry.name}`)
    .filter((path) => !files.has(path))
    .sort()
}

/**
 * Compares spec/ with freshly generated files, byte for byte, without writing anything: every
 * generated file that differs (stale) or is absent (missing), and every file docgen generated
 * before that is no longer generated (extra). Empty when spec/ is up to date.
 */
export async function checkSpec(dir: string, files: ReadonlyMap<string, string>): Promise<Drift[]> {
  const drift: Drift[] = []
  for (const [path, text] of files) {
    const existing = await readIfExists(join(dir, path))
    if (existing === undefined) drift.push({ kind: 'missing', path })
    else if (!existing.equals(Buffer.from(text, 'utf8'))) drift.push({ kind: 'stale', path })
  }
  for (const path of await extraSchemaFiles(dir, files)) drift.push({ kind: 'extra', path })
  return drift
}

/**
 * Brings spec/ in line with the generated files: writes the ones that differ (each through a
 * temporary file and a rename, so an interrupted run never leaves a half-written file), leaves
 * identical ones untouched (their mtime too), and deletes generated schema files that are no
 * longer produced. Files docgen does not own are never touched.
 */
export async function writeSpec(dir: string, files: ReadonlyMap<string, string>): Promise<WriteSummary> {
  const summary: WriteSummary = { written: [], removed: [], unchanged: 0 }
  for (const [path, text] of files) {
    const target = join(dir, path)
    const bytes = Buffer.from(text, 'utf8')
    const existing = await readIfExists(target)
    if (existing?.equals(bytes)) {
      summary.unchanged++
      continue
    }
    await mkdir(dirname(target), { recursive: true })
    const temporary = `${target}.${randomBytes(6).toString('hex')}.tmp`
    try {
      await writeFile(temporary, bytes)
      await rename(temporary, target)
    } catch (error) {
      await rm(temporary, { force: true })
      throw error
    }
    summary.written.push(path)
  }
  for (const path of await extraSchemaFiles(dir, files)) {
    await rm(join(dir, path))
    summary.removed.push(path)
  }
  return summary
}
