import { runCli } from './cli/main.ts'

// The `arw` command. Long-running commands (start, events --follow) stop cleanly on SIGINT/SIGTERM.
const controller = new AbortController()
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => controller.abort())
}
// A reader that stops early (`arw spec openapi | head -n 1`) closes the pipe: that is the reader
// being done, not a failure, so stop quietly as Unix tools do instead of crashing on EPIPE.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error
  controller.abort()
  process.exit(0)
})
const code = await runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  signal: controller.signal,
})
process.exitCode = code
// Streams and timers of a finished command must not keep the process alive; but what it wrote to a
// pipe is written asynchronously, so it exits once stdout and stderr have taken all of it (a large
// answer, such as `arw spec mcp | jq`, was otherwise cut short).
if (process.argv[2] !== 'mcp') {
  let pending = 2
  const flushed = () => {
    if (--pending === 0) setImmediate(() => process.exit(code)).unref()
  }
  process.stdout.write('', flushed)
  process.stderr.write('', flushed)
}
