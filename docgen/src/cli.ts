// `npm run docgen`: writes spec/ from the daemon's declarations; `--check` fails when it is stale.
// See `npm run docgen -- --help` for options and exit codes.
import { generateFromDaemon, main } from './main.ts'

process.exitCode = await main(process.argv.slice(2), {
  generate: generateFromDaemon,
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  cwd: process.cwd(),
})
