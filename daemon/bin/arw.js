#!/usr/bin/env node
// The `arw` command. Runs the compiled daemon (dist/cli.js, written by `npm run build`, which
// `npm ci` and `npm pack` run). A checkout that was never built runs the TypeScript sources
// through tsx instead: it works, but every start then costs seconds of compiling.
import { existsSync } from 'node:fs'

const compiled = new URL('../dist/cli.js', import.meta.url)
if (existsSync(compiled)) {
  await import(compiled.href)
} else {
  process.stderr.write('arw: daemon/dist is not built (npm run build); running the sources through tsx\n')
  const { register } = await import('tsx/esm/api')
  register()
  await import('../src/cli.ts')
}
