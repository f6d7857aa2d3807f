import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

/**
 * The layering the project keeps, checked on every file's imports (type-only ones too):
 * libraries never reach into the product, areas never into surfaces, surfaces never into each
 * other, and the daemon's modules import no cycle.
 */
const ROOT = resolve(import.meta.dirname, '..')

function sources(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'assets' || name.startsWith('.')) continue
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...sources(path))
    else if (/\.tsx?$/.test(name) && !/\.test\.tsx?$/.test(name)) out.push(path)
  }
  return out
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g
const PACKAGES: Record<string, string> = {
  '@arw/protocol': 'crates-ts/protocol/src/index.ts',
  '@arw/registry': 'crates-ts/registry/src/index.ts',
  '@arw/store': 'crates-ts/store/src/index.ts',
  '@arw/spec': 'crates-ts/spec/src/index.ts',
  '@arw/client': 'crates-ts/client/src/index.ts',
  '@arw/daemon': 'daemon/src/index.ts',
}

/** What each file imports, as repository-relative paths (packages outside the repo are left out). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const out: string[] = []
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2]!
    if (spec.startsWith('.')) out.push(relative(ROOT, resolve(dirname(file), spec)))
    else if (PACKAGES[spec]) out.push(PACKAGES[spec])
    else if (spec.startsWith('@arw/daemon')) out.push('daemon/src/(package)')
  }
  return out
}

const files = [...sources(join(ROOT, 'crates-ts')), ...sources(join(ROOT, 'daemon/src'))].map((f) => ({
  path: relative(ROOT, f),
  imports: importsOf(f),
}))

function violations(from: RegExp, to: RegExp, except?: (file: string, target: string) => boolean): string[] {
  return files.flatMap((f) =>
    from.test(f.path)
      ? f.imports.filter((t) => to.test(t) && !except?.(f.path, t)).map((t) => `${f.path} -> ${t}`)
      : [],
  )
}

describe('layering', () => {
  it('reads the files it checks', () => {
    expect(files.length).toBeGreaterThan(50)
    expect(files.find((f) => f.path === 'daemon/src/app.ts')?.imports).toContain('daemon/src/registry.ts')
  })

  it('libraries in crates-ts never import the daemon', () => {
    expect(violations(/^crates-ts\//, /^daemon\//)).toEqual([])
  })

  it('areas never import a surface', () => {
    expect(violations(/^daemon\/src\/areas\//, /^daemon\/src\/surfaces\//)).toEqual([])
  })

  it('surfaces never import each other, and the MCP transports share only their state', () => {
    const surfaceOf = (path: string) => /^daemon\/src\/surfaces\/([^/]+)\//.exec(path)?.[1]
    expect(
      violations(
        /^daemon\/src\/surfaces\//,
        /^daemon\/src\/surfaces\//,
        (file, target) => surfaceOf(file) === surfaceOf(target),
      ),
    ).toEqual([])
    expect(
      violations(/^daemon\/src\/surfaces\/mcp\/stdio\.ts$/, /^daemon\/src\/surfaces\/mcp\/http\.ts$/),
    ).toEqual([])
    expect(
      violations(/^daemon\/src\/surfaces\/mcp\/http\.ts$/, /^daemon\/src\/surfaces\/mcp\/stdio\.ts$/),
    ).toEqual([])
  })

  it('the pipeline and the kernel import no surface', () => {
    expect(violations(/^daemon\/src\/(pipeline|kernel|auth)\//, /^daemon\/src\/surfaces\//)).toEqual([])
  })

  it('has no import cycle in the daemon', () => {
    const graph = new Map(
      files.filter((f) => f.path.startsWith('daemon/src/')).map((f) => [f.path, f.imports]),
    )
    const cycles: string[] = []
    const state = new Map<string, 'open' | 'done'>()
    const stack: string[] = []
    const visit = (node: string) => {
      state.set(node, 'open')
      stack.push(node)
      for (const next of graph.get(node) ?? []) {
        if (!graph.has(next)) continue
        if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next].join(' -> '))
        else if (!state.has(next)) visit(next)
      }
      stack.pop()
      state.set(node, 'done')
    }
    for (const node of graph.keys()) if (!state.has(node)) visit(node)
    expect(cycles).toEqual([])
  })
})
