import { accessSync, constants, mkdirSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'

/** The state directory cannot be used (missing parent, not a directory, not writable, ...). */
export class StateDirError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'StateDirError'
  }
}

/**
 * Makes sure `dir` exists and is a writable directory, creating missing levels one at a time.
 * Node's recursive mkdirSync loops forever on some paths (`/proc/nope`: the kernel answers ENOENT
 * for the child of an existing directory), so the nearest existing ancestor is found first and
 * each missing level is created without `recursive`, where any refusal surfaces at once.
 */
export function ensureStateDir(dir: string): void {
  const target = resolve(dir)
  const missing: string[] = []
  let current = target
  for (;;) {
    let isDirectory: boolean
    try {
      isDirectory = statSync(current).isDirectory()
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw refusal(target, current, error)
      const parent = dirname(current)
      if (parent === current) throw new StateDirError(`ARW_STATE_DIR ${target}: no existing ancestor`)
      missing.unshift(current)
      current = parent
      continue
    }
    if (!isDirectory) throw new StateDirError(`ARW_STATE_DIR ${target}: ${current} is not a directory`)
    break
  }
  for (const level of missing) {
    try {
      mkdirSync(level)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw refusal(target, level, error)
    }
  }
  try {
    accessSync(target, constants.R_OK | constants.W_OK | constants.X_OK)
  } catch (error) {
    throw refusal(target, target, error)
  }
}

function refusal(target: string, at: string, error: unknown): StateDirError {
  const code = (error as NodeJS.ErrnoException).code ?? 'error'
  const where = at === target ? '' : ` (at ${at})`
  return new StateDirError(
    `ARW_STATE_DIR ${target} is not a usable directory${where}: ${code}; choose a writable directory`,
  )
}
