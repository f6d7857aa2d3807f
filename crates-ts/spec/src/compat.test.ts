import { defineTool, Registry } from '@arw/registry'
import Type, { type TSchema } from 'typebox'
import { describe, expect, it } from 'vitest'
import { checkCompat, compatLock, compatLockText } from './compat.ts'

function tool(version: string, input: TSchema, output: TSchema = Type.Object({ text: Type.String() })) {
  return defineTool({
    name: 'demo.echo',
    version,
    title: 'Echo',
    description: 'Returns its input.',
    input,
    output,
    handler: () => ({ text: '' }) as never,
  })
}

function lockOf(...tools: ReturnType<typeof tool>[]) {
  const registry = new Registry()
  registry.addTools(tools)
  return compatLock(registry)
}

const V1_INPUT = Type.Object({ text: Type.String({ maxLength: 100 }) }, { additionalProperties: false })
const released = lockOf(tool('1.0.0', V1_INPUT))

function violations(...tools: ReturnType<typeof tool>[]) {
  return checkCompat(released, lockOf(...tools)).map((v) => v.message)
}

describe('compatibility guard', () => {
  it('accepts the released registry as it is, and documentation-only changes', () => {
    expect(violations(tool('1.0.0', V1_INPUT))).toEqual([])
    const documented = Type.Object(
      { text: Type.String({ maxLength: 100, description: 'Now documented.' }) },
      { additionalProperties: false },
    )
    expect(violations(tool('1.0.0', V1_INPUT), tool('1.0.1', documented))).toEqual([])
  })

  it('refuses removing a released version, and says to restore it', () => {
    const found = violations(tool('2.0.0', V1_INPUT))
    expect(found).toHaveLength(1)
    expect(found[0]).toMatch(/^demo\.echo@1\.0\.0 was released and is gone/)
    expect(found[0]).toMatch(/Restore it/)
  })

  it('refuses changing the schemas of a released version in place', () => {
    const changed = Type.Object({ text: Type.String({ maxLength: 50 }) }, { additionalProperties: false })
    const found = violations(tool('1.0.0', changed))
    expect(found).toHaveLength(1)
    expect(found[0]).toMatch(
      /demo\.echo@1\.0\.0 was released and its schemas changed \(\/input\/text maxLength lowered to 50\)/,
    )
  })

  it('refuses a new required input field without a new major version', () => {
    const required = Type.Object(
      { text: Type.String({ maxLength: 100 }), lang: Type.String() },
      { additionalProperties: false },
    )
    const found = violations(tool('1.0.0', V1_INPUT), tool('1.1.0', required))
    expect(found).toHaveLength(1)
    expect(found[0]).toMatch(
      /demo\.echo@1\.1\.0 breaks callers of demo\.echo@1\.0\.0 \(\/input\/lang now required\)/,
    )
    expect(found[0]).toMatch(/needs a new major version, 2\.0\.0/)
    expect(violations(tool('1.0.0', V1_INPUT), tool('2.0.0', required))).toEqual([])
  })

  it('refuses a tighter input constraint or a narrower enum without a new major version', () => {
    const tighter = Type.Object({ text: Type.String({ maxLength: 10 }) }, { additionalProperties: false })
    expect(violations(tool('1.0.0', V1_INPUT), tool('1.1.0', tighter))[0]).toMatch(
      /\/input\/text maxLength lowered to 10/,
    )
    const patterned = Type.Object(
      { text: Type.String({ maxLength: 100, pattern: '^[a-z]+$' }) },
      { additionalProperties: false },
    )
    expect(violations(tool('1.0.0', V1_INPUT), tool('1.0.1', patterned))[0]).toMatch(
      /\/input\/text pattern added/,
    )
  })

  it('refuses a wider output without a new major version', () => {
    const base = lockOf(
      tool('1.0.0', V1_INPUT, Type.Object({ mode: Type.Union([Type.Literal('a'), Type.Literal('b')]) })),
    )
    const wider = lockOf(
      tool('1.0.0', V1_INPUT, Type.Object({ mode: Type.Union([Type.Literal('a'), Type.Literal('b')]) })),
      tool(
        '1.1.0',
        V1_INPUT,
        Type.Object({ mode: Type.Optional(Type.Union([Type.Literal('a'), Type.Literal('b')])) }),
      ),
    )
    const found = checkCompat(base, wider).map((v) => v.message)
    expect(found).toHaveLength(1)
    expect(found[0]).toMatch(/\/output\/mode no longer required/)
    expect(found[0]).toMatch(/2\.0\.0/)
  })

  it('needs at least a minor version for an additive change', () => {
    const optional = Type.Object(
      { text: Type.String({ maxLength: 100 }), lang: Type.Optional(Type.String()) },
      { additionalProperties: false },
    )
    const found = violations(tool('1.0.0', V1_INPUT), tool('1.0.1', optional))
    expect(found).toHaveLength(1)
    expect(found[0]).toMatch(/demo\.echo@1\.0\.1 changes demo\.echo@1\.0\.0 \(\/input\/lang property added\)/)
    expect(found[0]).toMatch(/at least a new minor version, 1\.1\.0/)
    expect(violations(tool('1.0.0', V1_INPUT), tool('1.1.0', optional))).toEqual([])
    // A looser input constraint is additive too.
    const looser = Type.Object({ text: Type.String({ maxLength: 1000 }) }, { additionalProperties: false })
    expect(violations(tool('1.0.0', V1_INPUT), tool('1.1.0', looser))).toEqual([])
  })

  it('writes a byte-stable lock file', () => {
    const registry = new Registry()
    registry.addTools([tool('1.0.0', V1_INPUT)])
    expect(compatLockText(registry)).toBe(compatLockText(registry))
    expect(
      JSON.parse(compatLockText(registry)).tools['demo.echo@1.0.0'].input.properties.text.maxLength,
    ).toBe(100)
  })
})
