import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { backupStateDir, LMDB_FILE } from '@arw/store'
import { loadConfig } from '../config.ts'
import { ensureStateDir } from '../state/dir.ts'
import { type CliIO, EXIT, parse, UsageError } from './io.ts'

export const BACKUP_HELP = `Usage: arw backup <dir> [-h | --help]

Copies the store of ARW_STATE_DIR (the journal, idempotency keys, every area's data) into <dir>,
which must be empty or missing: a consistent snapshot, compacted (free pages left out), taken from
one read transaction, so the daemon may keep running and writing meanwhile. To restore, stop the
daemon and start it with ARW_STATE_DIR=<dir> (or copy <dir>/arw.lmdb over the state directory's).
With ARW_STORE (PostgreSQL) it refuses: use pg_dump -Fc and pg_restore (docs/deployment.md).
Exit status: 0 done; 4 no store to copy, <dir> is not empty, or the store is PostgreSQL.
`

export const BACKUP_OPTIONS = { help: { type: 'boolean', short: 'h' } } as const

export async function backupCommand(args: readonly string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args, BACKUP_OPTIONS)
  if (values.help) {
    io.out(BACKUP_HELP)
    return EXIT.ok
  }
  if (positionals.length !== 1) throw new UsageError('backup takes one directory')
  const config = loadConfig(io.env)
  if (config.store !== undefined) {
    // The URL may hold a password: it is not repeated.
    io.err(
      'arw: cannot back up: ARW_STORE keeps the state in PostgreSQL, not in ARW_STATE_DIR; back the database up with pg_dump -Fc and restore it with pg_restore, while the daemons run (see docs/deployment.md, "Backups on PostgreSQL")\n',
    )
    return EXIT.config
  }
  const source = join(config.stateDir, LMDB_FILE)
  const target = resolve(positionals[0]!)
  if (!existsSync(source)) {
    io.err(`arw: cannot back up: no store in ${config.stateDir} (is ARW_STATE_DIR right?)\n`)
    return EXIT.config
  }
  if (target === resolve(config.stateDir)) {
    io.err('arw: cannot back up: <dir> is the state directory itself\n')
    return EXIT.config
  }
  try {
    ensureStateDir(target)
  } catch (error) {
    io.err(`arw: cannot back up: ${(error as Error).message}\n`)
    return EXIT.config
  }
  if (readdirSync(target).length > 0) {
    io.err(`arw: cannot back up: ${target} is not empty\n`)
    return EXIT.config
  }
  // A reader beside the daemon: the copy runs in one read transaction, so it is the store as of one commit.
  const copy = await backupStateDir(config.stateDir, target)
  const bytes = statSync(copy).size
  io.err(
    `arw: backed up ${config.stateDir} to ${target} (${bytes} bytes, compacted); restore with ARW_STATE_DIR=${target}\n`,
  )
  return EXIT.ok
}
