/**
 * Tool ids: `<name>@<semver>`, e.g. `memory.probe@1.0.0`. A name is one or more dot-separated
 * segments of lowercase letters, digits, `_` and `-`, each starting with a letter. A reference
 * without a version means "the newest stable version".
 */
export const NAME_PATTERN = /^[a-z][a-z0-9_-]*(?:\.[a-z][a-z0-9_-]*)*$/
export const SEMVER_PATTERN =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/
export const MAX_NAME_LENGTH = 100

export interface SemVer {
  major: number
  minor: number
  patch: number
  prerelease: string | undefined
}

export interface ToolRef {
  name: string
  version: string | undefined
}

export function isToolName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME_PATTERN.test(name)
}

export function parseSemver(version: string): SemVer | undefined {
  const match = SEMVER_PATTERN.exec(version)
  if (!match) return undefined
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]), prerelease: match[4] }
}

/** Orders versions ascending; a prerelease sorts before its release. */
export function compareSemver(a: SemVer, b: SemVer): number {
  if (a.major !== b.major) return a.major - b.major
  if (a.minor !== b.minor) return a.minor - b.minor
  if (a.patch !== b.patch) return a.patch - b.patch
  if (a.prerelease === b.prerelease) return 0
  if (a.prerelease === undefined) return 1
  if (b.prerelease === undefined) return -1
  return a.prerelease < b.prerelease ? -1 : 1
}

/** Parses `name` or `name@x.y.z`; undefined when the text is not a tool reference at all. */
export function parseToolRef(ref: string): ToolRef | undefined {
  const at = ref.indexOf('@')
  const name = at === -1 ? ref : ref.slice(0, at)
  const version = at === -1 ? undefined : ref.slice(at + 1)
  if (!isToolName(name)) return undefined
  if (version !== undefined && !parseSemver(version)) return undefined
  return { name, version }
}

export function formatToolId(name: string, version: string): string {
  return `${name}@${version}`
}
