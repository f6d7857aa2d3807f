import { join } from 'node:path'
import { open } from 'lmdb'
import { LMDB_FILE } from './file.ts'

/**
 * Copies the LMDB store of `dir` into `targetDir` (existing, empty): compacted, from one read
 * transaction, so the daemon may keep writing meanwhile (LMDB lets processes read beside the writer).
 * Resolves with the path of the copy.
 */
export async function backupLmdb(dir: string, targetDir: string): Promise<string> {
  const root = open({ path: join(dir, LMDB_FILE), readOnly: true })
  const target = join(targetDir, LMDB_FILE)
  try {
    await root.backup(target, true)
  } finally {
    await root.close()
  }
  return target
}
