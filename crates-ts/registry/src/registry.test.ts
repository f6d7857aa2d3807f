import Type from 'typebox'
import { describe, expect, it } from 'vitest'
import { Registry, RegistryError } from './registry.ts'
import { defineTool, type ToolSpec } from './tool.ts'

function tool(name: string, version: string, extra: Partial<ToolSpec> = {}): ToolSpec {
  return defineTool({
    name,
    version,
    title: `${name} title`,
    description: `${name} description`,
    input: Type.Object({ text: Type.String() }),
    output: Type.Object({ text: Type.String() }),
    handler: ({ text }) => ({ text }),
    ...extra,
  }) as ToolSpec
}

describe('Registry', () => {
  it('reports every problem of a batch together and registers nothing', () => {
    const registry = new Registry()
    const bad = [
      tool('Bad Name', '1.0.0'),
      tool('good.one', '1.0'),
      tool('good.two', '1.0.0', { input: Type.String() as never }),
      tool('good.three', '1.0.0'),
      tool('good.three', '1.0.0'),
    ]
    let error: unknown
    try {
      registry.addTools(bad)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(RegistryError)
    const problems = (error as RegistryError).problems
    expect(problems).toHaveLength(4)
    expect(problems.join('\n')).toMatch(/Bad Name@1\.0\.0: name must match/)
    expect(problems.join('\n')).toMatch(/good\.one@1\.0: version must be semver/)
    expect(problems.join('\n')).toMatch(/good\.two@1\.0\.0: input schema must be an object schema/)
    expect(problems.join('\n')).toMatch(/good\.three@1\.0\.0: this version is already registered/)
    expect(registry.tools()).toHaveLength(0)
  })

  it('rejects a version already registered in an earlier batch', () => {
    const registry = new Registry()
    registry.addTools([tool('a.b', '1.0.0')])
    expect(() => registry.addTools([tool('a.b', '1.0.0')])).toThrow(/already registered/)
  })

  it('resolves a bare name to the newest stable version and an exact id to that version', () => {
    const registry = new Registry()
    registry.addTools([
      tool('x.y', '1.0.0'),
      tool('x.y', '1.2.0'),
      tool('x.y', '2.0.0', { stability: 'experimental' }),
      tool('x.y', '1.10.0', { stability: 'deprecated' }),
    ])
    expect(registry.resolve('x.y').id).toBe('x.y@1.2.0')
    expect(registry.resolve('x.y@2.0.0').id).toBe('x.y@2.0.0')
    expect(registry.versions('x.y').map((t) => t.version)).toEqual(['2.0.0', '1.10.0', '1.2.0', '1.0.0'])
  })

  it('falls back to the newest experimental version when no stable one exists', () => {
    const registry = new Registry()
    registry.addTools([
      tool('e.x', '0.1.0', { stability: 'experimental' }),
      tool('e.x', '0.2.0', { stability: 'experimental' }),
    ])
    expect(registry.resolve('e.x').id).toBe('e.x@0.2.0')
  })

  it('answers distinct problems for a bad id, an unknown tool and an unknown version', () => {
    const registry = new Registry()
    registry.addTools([tool('k.v', '1.0.0')])
    expect(() => registry.resolve('NOT AN ID')).toThrow(
      expect.objectContaining({ code: 'validation_failed' }),
    )
    expect(() => registry.resolve('no.such')).toThrow(
      expect.objectContaining({ code: 'not_found', message: expect.stringMatching(/No tool/) }),
    )
    expect(() => registry.resolve('k.v@9.9.9')).toThrow(
      expect.objectContaining({ message: expect.stringMatching(/available: 1\.0\.0/) }),
    )
  })

  it('tells listeners what changed', () => {
    const registry = new Registry()
    const changes: unknown[] = []
    registry.onChange((c) => changes.push(c))
    registry.addTools([tool('c.d', '1.0.0')])
    registry.removeTools(['c.d@1.0.0'])
    expect(changes).toEqual([
      { added: ['c.d@1.0.0'], removed: [], revision: 1 },
      { added: [], removed: ['c.d@1.0.0'], revision: 2 },
    ])
  })

  it('walks declarations in a stable order regardless of registration order', () => {
    const a = new Registry()
    const b = new Registry()
    const specs = [tool('b.x', '1.0.0'), tool('a.x', '1.0.0'), tool('a.x', '2.0.0')]
    a.addTools(specs)
    b.addTools([...specs].reverse())
    const ids = (r: Registry) => {
      const out: string[] = []
      r.reflect({ onTool: (t) => out.push(t.id) })
      return out
    }
    expect(ids(a)).toEqual(['a.x@2.0.0', 'a.x@1.0.0', 'b.x@1.0.0'])
    expect(ids(b)).toEqual(ids(a))
  })
})

describe('tool examples', () => {
  it('keeps examples that match the schemas, frozen, and gives tools without any an empty list', () => {
    const registry = new Registry()
    registry.addTools([
      tool('ex.good', '1.0.0', {
        examples: [
          { title: 'greet', input: { text: 'hi' }, output: { text: 'hi' } },
          { input: { text: '' } },
        ],
      }),
      tool('ex.none', '1.0.0'),
    ])
    const good = registry.resolve('ex.good')
    expect(good.examples).toEqual([
      { title: 'greet', input: { text: 'hi' }, output: { text: 'hi' } },
      { input: { text: '' } },
    ])
    expect(Object.isFrozen(good.examples[0])).toBe(true)
    expect(registry.resolve('ex.none').examples).toEqual([])
  })

  it('refuses a tool whose example input or output does not match its schema, saying which field', () => {
    const registry = new Registry()
    let error: unknown
    try {
      registry.addTools([
        tool('ex.input', '1.0.0', { examples: [{ input: { text: 1 } }] }),
        tool('ex.output', '1.0.0', {
          examples: [{ input: { text: 'a' } }, { input: { text: 'b' }, output: {} }],
        }),
        tool('ex.fine', '1.0.0', { examples: [{ input: { text: 'a' } }] }),
      ])
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(RegistryError)
    const problems = (error as RegistryError).problems
    expect(problems).toHaveLength(2)
    expect(problems).toEqual([
      'ex.input@1.0.0: examples[0].input does not match the input schema: /text must be string',
      'ex.output@1.0.0: examples[1].output does not match the output schema: /text is required',
    ])
    expect(registry.tools()).toEqual([])
  })
})

describe('compiled validators', () => {
  it('lists each failing field by JSON pointer, folding union branches', () => {
    const registry = new Registry()
    registry.addTools([
      tool('v.w', '1.0.0', {
        input: Type.Object(
          {
            text: Type.String({ minLength: 2 }),
            mode: Type.Union([Type.Literal('a'), Type.Literal('b')]),
            nested: Type.Object({ n: Type.Integer() }),
          },
          { additionalProperties: false },
        ),
      }),
    ])
    const v = registry.resolve('v.w').inputValidator
    expect(v.check({ text: 'ok', mode: 'a', nested: { n: 1 } })).toBe(true)
    const errors = v.errors({ text: 'x', mode: 'z', nested: {}, extra: 1 })
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ pointer: '/text', keyword: 'minLength' }),
        { pointer: '/mode', message: 'must be one of "a", "b"', keyword: 'anyOf' },
        { pointer: '/nested/n', message: 'is required', keyword: 'required' },
        { pointer: '/extra', message: 'is not an allowed property', keyword: 'additionalProperties' },
      ]),
    )
    expect(errors).toHaveLength(4)
  })

  it('says which properties an object needs when it must have one of several', () => {
    const registry = new Registry()
    registry.addTools([
      tool('v.any', '1.0.0', {
        input: Type.Object(
          {
            a: Type.Optional(Type.String()),
            b: Type.Optional(Type.String()),
            c: Type.Optional(Type.String()),
          },
          { anyOf: [{ required: ['a'] }, { required: ['b', 'c'] }] },
        ),
      }),
    ])
    const v = registry.resolve('v.any').inputValidator
    expect(v.check({ a: 'x' })).toBe(true)
    expect(v.check({ b: 'x', c: 'y' })).toBe(true)
    expect(v.errors({ b: 'x' })).toEqual([{ pointer: '', message: 'needs a or b and c', keyword: 'anyOf' }])
  })
})
