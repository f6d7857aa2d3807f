import { defineConfig } from 'vitest/config'

// CI asks for a JSON report (ARW_VITEST_JSON) to print its one-line summary from.
const json = process.env['ARW_VITEST_JSON']

export default defineConfig({
  test: {
    include: [
      'crates-ts/*/src/**/*.test.ts',
      'daemon/src/**/*.test.ts',
      'docgen/src/**/*.test.ts',
      'doc-tests/**/*.test.ts',
      'tests/**/*.test.ts',
    ],
    exclude: ['**/node_modules/**'],
    // daemon/bin/arw.js runs the compiled build: compile the sources under test first.
    globalSetup: ['tests/support/build-daemon.ts'],
    // Every answer any daemon gives in a test is checked against spec/openapi.yaml.
    setupFiles: ['daemon/src/testing/contract-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores on CI: files run in parallel forks, never more than the machine has.
    pool: 'forks',
    maxWorkers: 2,
    reporters: json ? ['default', 'json'] : ['default'],
    ...(json ? { outputFile: { json } } : {}),
  },
})
