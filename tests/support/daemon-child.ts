// A daemon in a child process, for tests that must kill it. Prints "READY <url>" once listening.
import { loadConfig } from '../../daemon/src/config.ts'
import { startDaemon } from '../../daemon/src/server.ts'

const daemon = await startDaemon(loadConfig(process.env))
process.stdout.write(`READY ${daemon.url}\n`)
const stop = () => {
  void daemon.close().then(() => process.exit(0))
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
