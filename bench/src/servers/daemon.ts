import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../../daemon/src/config.ts'
import { startDaemon } from '../../../daemon/src/server.ts'
import { announce, portOf } from './ready.ts'

// The daemon as users run it: full pipeline, committed journal record, event publish.
const config = loadConfig({
  ...process.env,
  ARW_STATE_DIR: mkdtempSync(join(tmpdir(), 'arw-bench-')),
  ARW_HOST: '127.0.0.1',
  ARW_PORT: '0',
  ARW_LOG_LEVEL: 'warn',
})
const daemon = await startDaemon(config)
announce(portOf(daemon.app.server))
