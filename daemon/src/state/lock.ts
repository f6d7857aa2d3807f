import { randomBytes } from 'node:crypto'
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'

/** The lock file's name inside the state directory. */
export const LOCK_FILE = 'daemon.lock'

/** What the owner of a state directory writes into its lock file (mode 0600: it holds a token). */
export interface LockRecord {
  pid: number
  hostname: string
  started_at: string
  /** Kernel start time of the process (Linux, clock ticks since boot): tells a reused pid apart. */
  proc_start: string | null
  /** Base URL once the owner listens on HTTP (a daemon); absent for an in-process `arw mcp`. */
  url?: string
  /** Random per start; the owner accepts it as the local operator (auth/local-operator.ts). */
  token: string
}

/** Another live process owns the state directory. */
export class StateDirLockedError extends Error {
  readonly owner: LockRecord
  constructor(dir: string, owner: LockRecord) {
    const what = owner.url ? `the daemon listening on ${owner.url}` : 'an in-process `arw mcp`'
    super(
      `ARW_STATE_DIR ${dir} is in use by ${what} (pid ${owner.pid} on ${owner.hostname}, started ${owner.started_at}). ` +
        'Exactly one process writes a state directory: stop it, or give this one another ARW_STATE_DIR.',
    )
    this.name = 'StateDirLockedError'
    this.owner = owner
  }
}

function procStart(pid: number): string | null {
  try {
    // Field 22 of /proc/<pid>/stat; the command name (field 2) may contain spaces, so count after it.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null
  } catch {
    return null
  }
}

function alive(record: LockRecord): boolean {
  if (record.hostname !== hostname()) return true // cannot tell from here: never steal it
  if (record.pid === process.pid) return true
  try {
    process.kill(record.pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false
  }
  // The pid runs, but is it still the process that took the lock?
  const start = procStart(record.pid)
  return record.proc_start === null || start === null || start === record.proc_start
}

function parse(text: string): LockRecord | undefined {
  try {
    const value = JSON.parse(text) as LockRecord
    return typeof value.pid === 'number' && typeof value.token === 'string' ? value : undefined
  } catch {
    return undefined
  }
}

/** The live owner of `dir`'s lock, if any (a stale lock of a dead process answers undefined). */
export function readLock(dir: string): LockRecord | undefined {
  let text: string
  try {
    text = readFileSync(join(dir, LOCK_FILE), 'utf8')
  } catch {
    return undefined
  }
  const record = parse(text)
  return record && alive(record) ? record : undefined
}

/**
 * The exclusive right to write one state directory, held while the process runs. The lock file is
 * written whole to a temporary name and hard-linked into place, which fails if a lock exists: no
 * reader ever sees a half-written lock. A lock whose process is gone (killed, crashed, pid reused)
 * is stale and is taken over, so `kill -9` never leaves the directory locked.
 */
export class StateLock {
  readonly dir: string
  readonly path: string
  #record: LockRecord
  #released = false

  private constructor(dir: string, record: LockRecord) {
    this.dir = dir
    this.path = join(dir, LOCK_FILE)
    this.#record = record
  }

  get token(): string {
    return this.#record.token
  }

  /** Takes the lock or throws StateDirLockedError naming the owner. */
  static acquire(dir: string): StateLock {
    const record: LockRecord = {
      pid: process.pid,
      hostname: hostname(),
      started_at: new Date().toISOString(),
      proc_start: procStart(process.pid),
      token: randomBytes(32).toString('base64url'),
    }
    const path = join(dir, LOCK_FILE)
    for (let attempt = 0; attempt < 5; attempt++) {
      const temp = writeTemp(dir, record)
      try {
        linkSync(temp, path)
        return new StateLock(dir, record)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      } finally {
        unlinkSync(temp)
      }
      let text: string
      try {
        text = readFileSync(path, 'utf8')
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue // removed meanwhile
        throw new Error(
          `ARW_STATE_DIR ${dir}: cannot read ${LOCK_FILE} of its owner: ${(error as NodeJS.ErrnoException).code}`,
        )
      }
      const owner = parse(text)
      if (owner && alive(owner)) throw new StateDirLockedError(dir, owner)
      removeStale(path, text)
    }
    throw new Error(`ARW_STATE_DIR ${dir}: could not take ${LOCK_FILE} (contended)`)
  }

  /** Publishes where the owner can be reached (the daemon's URL). */
  advertise(url: string): void {
    if (this.#released) return
    this.#record = { ...this.#record, url }
    // Replaced whole by rename, so readers see the old or the new record, never a mix.
    renameSync(writeTemp(this.dir, this.#record), this.path)
  }

  release(): void {
    if (this.#released) return
    this.#released = true
    try {
      const current = parse(readFileSync(this.path, 'utf8'))
      if (current?.token === this.#record.token) unlinkSync(this.path)
    } catch {
      // Already gone.
    }
  }
}

function writeTemp(dir: string, record: LockRecord): string {
  const temp = join(dir, `${LOCK_FILE}.${process.pid}.${randomBytes(6).toString('hex')}`)
  writeFileSync(temp, `${JSON.stringify(record)}\n`, { mode: 0o600, flag: 'wx' })
  return temp
}

/**
 * Removes a stale lock without racing a process that replaced it meanwhile: the file is moved
 * aside atomically and checked; if it turns out to be a fresh lock, it is linked back.
 */
function removeStale(path: string, staleText: string): void {
  const aside = `${path}.stale.${randomBytes(6).toString('hex')}`
  try {
    renameSync(path, aside)
  } catch {
    return
  }
  try {
    if (readFileSync(aside, 'utf8') !== staleText) linkSync(aside, path)
  } catch {
    // Another process took the lock in between; it keeps it.
  } finally {
    unlinkSync(aside)
  }
}
