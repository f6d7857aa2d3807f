/** What OpenAPI allows as a component key; AsyncAPI allows the same characters. */
export const COMPONENT_NAME = /^[a-zA-Z0-9._-]+$/

/**
 * The component key of a tool version's input or output schema: `demo.echo_1.0.0_Input`.
 *
 * `demo.echo@1.0.0` itself is not a valid key (`@`). Replacing it by `_` stays unambiguous: a
 * version has no `_` (semver allows only [0-9A-Za-z.-]), so the last `_` before the part suffix
 * always separates name from version, and no two tool versions share a key.
 */
export function toolSchemaName(tool: { name: string; version: string }, part: 'Input' | 'Output'): string {
  return `${tool.name}_${tool.version}_${part}`
}

/** Code-unit order: the same on every machine, unlike localeCompare (which depends on ICU data). */
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
