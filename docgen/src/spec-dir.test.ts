import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defineTool, Registry } from '@arw/registry'
import { specFiles } from '@arw/spec'
import Type from 'typebox'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { checkSpec, isGeneratedSchemaFile, writeSpec } from './spec-dir.ts'

function files(versions: readonly string[] = ['1.0.0', '1.1.0']): Map<string, string> {
  const registry = new Registry()
  registry.addTools(
    versions.map((version) =>
      defineTool({
        name: 'demo.echo',
        version,
        title: 'Echo',
        description: 'Returns its input.',
        input: Type.Object({ text: Type.String() }),
        output: Type.Object({ text: Type.String() }),
        handler: ({ text }) => ({ text }),
      }),
    ),
  )
  return specFiles({ registry, routes: [], version: '0.1.0' })
}

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'arw-docgen-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('isGeneratedSchemaFile', () => {
  it('owns <tool id>.json names only', () => {
    expect(isGeneratedSchemaFile('demo.echo@1.0.0.json')).toBe(true)
    expect(isGeneratedSchemaFile('demo.echo@2.0.0-rc.1.json')).toBe(true)
    expect(isGeneratedSchemaFile('demo.echo.json')).toBe(false)
    expect(isGeneratedSchemaFile('README.md')).toBe(false)
    expect(isGeneratedSchemaFile('compat.lock.json')).toBe(false)
  })
})

describe('checkSpec and writeSpec', () => {
  it('reports every generated file as missing in an empty directory, then nothing once written', async () => {
    const generated = files()
    expect(await checkSpec(dir, generated)).toEqual(
      [...generated.keys()].map((path) => ({ kind: 'missing', path })),
    )
    const summary = await writeSpec(dir, generated)
    expect(summary).toEqual({ written: [...generated.keys()], removed: [], unchanged: 0 })
    expect(await checkSpec(dir, generated)).toEqual([])
    for (const [path, text] of generated) expect(await readFile(join(dir, path), 'utf8')).toBe(text)
    // No temporary files are left behind.
    expect((await readdir(dir)).sort()).toEqual([
      'asyncapi.yaml',
      'mcp-tools.json',
      'openapi.yaml',
      'schemas',
    ])
  })

  it('detects a stale file, a missing file and a generated file that is no longer generated', async () => {
    await writeSpec(dir, files(['1.0.0', '1.1.0', '0.9.0']))
    await writeFile(
      join(dir, 'openapi.yaml'),
      `${await readFile(join(dir, 'openapi.yaml'), 'utf8')}# edited\n`,
    )
    await rm(join(dir, 'schemas', 'demo.echo@1.1.0.json'))
    // Files docgen does not own are never reported.
    await writeFile(join(dir, 'compat.lock.json'), '{}\n')
    await writeFile(join(dir, 'schemas', 'notes.md'), 'kept\n')
    await mkdir(join(dir, 'schemas', 'nested'))

    expect(await checkSpec(dir, files())).toEqual([
      { kind: 'stale', path: 'openapi.yaml' },
      // The MCP catalog listed 0.9.0 under its alias.
      { kind: 'stale', path: 'mcp-tools.json' },
      { kind: 'missing', path: 'schemas/demo.echo@1.1.0.json' },
      { kind: 'extra', path: 'schemas/demo.echo@0.9.0.json' },
    ])
  })

  it('notices a one-byte difference', async () => {
    const generated = files()
    await writeSpec(dir, generated)
    const text = generated.get('mcp-tools.json')!
    await writeFile(join(dir, 'mcp-tools.json'), text.replace(/\n$/, ''))
    expect(await checkSpec(dir, generated)).toEqual([{ kind: 'stale', path: 'mcp-tools.json' }])
  })

  it('rewrites only what changed, deletes stale generated schemas and keeps everything else', async () => {
    await writeSpec(dir, files(['1.0.0', '1.1.0', '0.9.0']))
    await writeFile(join(dir, 'compat.lock.json'), '{"keep":true}\n')
    await writeFile(join(dir, 'schemas', 'notes.md'), 'kept\n')
    const before = await stat(join(dir, 'asyncapi.yaml'))

    const generated = files()
    const summary = await writeSpec(dir, generated)
    expect(summary.removed).toEqual(['schemas/demo.echo@0.9.0.json'])
    expect(summary.written).toEqual(['openapi.yaml', 'mcp-tools.json'])
    expect(summary.unchanged).toBe(generated.size - 2)
    expect((await stat(join(dir, 'asyncapi.yaml'))).mtimeMs).toBe(before.mtimeMs)
    expect(await readFile(join(dir, 'compat.lock.json'), 'utf8')).toBe('{"keep":true}\n')
    expect(await readFile(join(dir, 'schemas', 'notes.md'), 'utf8')).toBe('kept\n')
    expect(await checkSpec(dir, generated)).toEqual([])
  })
})
