import { execFile } from 'node:child_process'
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/**
 * `npm ci` from the lock file, as a new user runs it on this Node: no package of the tree may
 * declare an engine this Node does not satisfy (npm's EBADENGINE warning). A dry run in a copy of
 * package.json and the lock: npm resolves and checks the whole tree, from its cache, and installs
 * nothing.
 */
it('npm ci warns of no unsupported engine on this Node', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'arw-engines-'))
  try {
    for (const file of ['package.json', 'package-lock.json']) copyFileSync(join(ROOT, file), join(dir, file))
    const { stdout, stderr } = await promisify(execFile)(
      'npm',
      ['ci', '--dry-run', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'],
      { cwd: dir, maxBuffer: 16 << 20 },
    )
    expect(`${stdout}\n${stderr}`).toMatch(/added \d+ packages/)
    expect(stderr.split('\n').filter((line) => line.includes('EBADENGINE'))).toEqual([])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}, 120_000)
