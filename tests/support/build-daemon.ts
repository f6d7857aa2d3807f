import { buildDaemon } from '../../daemon/build.ts'

/**
 * vitest globalSetup: builds daemon/dist once before any test file runs, so the tests that start
 * daemon/bin/arw.js (the CLI, the MCP client snippets, the packed tarball) run the code under test
 * and never a build older than the sources.
 */
export default async function setup(): Promise<void> {
  await buildDaemon()
}
