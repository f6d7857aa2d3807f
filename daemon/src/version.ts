import { readFileSync } from 'node:fs'

/**
 * The daemon's version: the root package.json's, the one `npm version` bumps and `npm pack`
 * publishes. It sits two folders up both from these sources (daemon/src/) and from the compiled
 * build (daemon/dist/), in a checkout and in an installed package alike.
 */
export const DAEMON_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version
