import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../../daemon/src/config.ts'
import { startDaemon } from '../../../daemon/src/server.ts'
import { announce, portOf } from './ready.ts'

// The daemon as users run it: full pipeline, committed journal record, event publish.
const stateDir = mkdtempSync(join(tmpdir(), 'arw-bench-'))
// A run's journal grows by hundreds of megabytes: it goes with the process. SIGTERM (how the
// runner stops a server) exits instead of dying, so the exit hook runs.
process.on('exit', () => rmSync(stateDir, { recursive: true, force: true }))
process.once('SIGTERM', () => process.exit(0))
const config = loadConfig({
  ...process.env,
  ARW_STATE_DIR: stateDir,
  ARW_HOST: '127.0.0.1',
  ARW_PORT: '0',
  ARW_LOG_LEVEL: 'warn',
})
const daemon = await startDaemon(config)
announce(portOf(daemon.app.server))
