import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defineTool, Registry } from '@arw/registry'
import { SpecError, specFiles } from '@arw/spec'
import Type from 'typebox'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { EXIT, type Generated, main } from './main.ts'

function generated(title = 'Echo', input: Type.TObject = Type.Object({ text: Type.String() })): Generated {
  const registry = new Registry()
  registry.addTools([
    defineTool({
      name: 'demo.echo',
      version: '1.0.0',
      title,
      description: 'Returns its input.',
      input,
      output: Type.Object({ text: Type.String() }),
      handler: ({ text }) => ({ text: String(text) }),
    }),
  ])
  return {
    files: specFiles({ registry, routes: [], version: '0.1.0' }),
    registry,
    tools: 1,
    events: 0,
    routes: 0,
  }
}

let dir: string
let out: string[]
let err: string[]
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'arw-docgen-main-'))
  out = []
  err = []
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

function run(argv: string[], generate: () => Promise<Generated> = async () => generated(), root?: string) {
  return main(argv, {
    generate,
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    cwd: dir,
    ...(root ? { root } : {}),
  })
}

describe('docgen main', () => {
  it('writes spec/, then --check passes', async () => {
    expect(await run(['--dir', dir])).toBe(EXIT.ok)
    expect(out.at(-1)).toBe(
      'docgen: ./ has 4 generated files from 1 tool version, 0 event kinds, 0 routes: 4 written, 0 removed, 0 unchanged',
    )
    expect((await readdir(join(dir, 'schemas'))).sort()).toEqual(['demo.echo@1.0.0.json'])
    out = []
    expect(await run(['--check', '--dir', dir])).toBe(EXIT.ok)
    expect(out).toEqual(['docgen: ./ is up to date (4 files from 1 tool version, 0 event kinds, 0 routes)'])
    expect(err).toEqual([])
  })

  it('counts the files it writes outside spec/ (the README, the client types) with the others', async () => {
    const root = join(dir, 'repo')
    const spec = join(dir, 'spec')
    await mkdir(root)
    const withOutside = (readme: string) => async (): Promise<Generated> => ({
      ...generated(),
      outside: new Map([
        ['README.md', readme],
        ['types.gen.ts', 'export {}\n'],
      ]),
    })
    expect(await run(['--dir', spec], withOutside('# v1\n'), root)).toBe(EXIT.ok)
    expect(out.filter((l) => l.startsWith('wrote'))).toHaveLength(6)
    expect(out.at(-1)).toBe(
      'docgen: spec/ has 4 generated files and 2 outside it from 1 tool version, 0 event kinds, 0 routes: 6 written, 0 removed, 0 unchanged',
    )
    expect(await readFile(join(root, 'README.md'), 'utf8')).toBe('# v1\n')
    out = []
    expect(await run(['--dir', spec], withOutside('# v2\n'), root)).toBe(EXIT.ok)
    expect(out).toEqual([
      'wrote   README.md',
      'docgen: spec/ has 4 generated files and 2 outside it from 1 tool version, 0 event kinds, 0 routes: 1 written, 0 removed, 5 unchanged',
    ])
    expect(await run(['--check', '--dir', spec], withOutside('# v3\n'), root)).toBe(EXIT.stale)
    expect(err).toEqual(['stale   README.md', 'docgen: generated files are out of date; run: npm run docgen'])
  })

  it('--check fails on a stale file, lists it with the fix, and writes nothing', async () => {
    await run(['--dir', dir])
    await writeFile(join(dir, 'schemas', 'old.tool@1.0.0.json'), '{}\n')
    const changed = async () => generated('Echo, renamed')
    expect(await run(['--check', '--dir', dir], changed)).toBe(EXIT.stale)
    expect(err).toEqual([
      'stale   ./openapi.yaml',
      'stale   ./mcp-tools.json',
      'stale   ./schemas/demo.echo@1.0.0.json',
      'extra   ./schemas/old.tool@1.0.0.json',
      'docgen: ./ is out of date (4 files); run: npm run docgen',
    ])
    // Still stale: --check never writes.
    expect(await run(['--check', '--dir', dir], changed)).toBe(EXIT.stale)
    expect(await run(['--dir', dir], changed)).toBe(EXIT.ok)
    expect(await run(['--check', '--dir', dir], changed)).toBe(EXIT.ok)
  })

  it('reports declaration problems and usage errors with their own exit codes', async () => {
    const broken = async (): Promise<Generated> => {
      throw new SpecError(['route GET /x/{id} (x): path parameter {id} is not declared in params'])
    }
    expect(await run(['--check', '--dir', dir], broken)).toBe(EXIT.invalid)
    expect(err.join('\n')).toContain('path parameter {id} is not declared in params')
    expect(await run(['--frobnicate'])).toBe(EXIT.usage)
    expect(await run(['--help'])).toBe(EXIT.ok)
    expect(out.at(-1)).toContain('Exit codes:')
  })

  it('--compat guards the released baseline: a breaking change fails with what to do', async () => {
    expect(await run(['--compat', '--dir', dir])).toBe(EXIT.failed)
    expect(err.join('\n')).toMatch(/--compat-update/)
    expect(await run(['--compat-update', '--dir', dir])).toBe(EXIT.ok)
    expect(await run(['--compat', '--dir', dir])).toBe(EXIT.ok)
    // The released version changes in place: its input gains a required field.
    const breaking = async () => generated('Echo', Type.Object({ text: Type.String(), lang: Type.String() }))
    err = []
    expect(await run(['--check', '--compat', '--dir', dir], breaking)).toBe(EXIT.incompatible)
    expect(err[0]).toMatch(/^incompatible demo\.echo@1\.0\.0: .*\/input\/lang now required/)
  })
})
