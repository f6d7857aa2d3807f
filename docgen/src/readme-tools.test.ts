import { defineTool, Registry } from '@arw/registry'
import Type from 'typebox'
import { describe, expect, it } from 'vitest'
import { TOOLS_END, TOOLS_START, toolTable, withToolTable } from './readme-tools.ts'

function registry(): Registry {
  const r = new Registry()
  const tool = (name: string, title: string, examples: Array<{ input: { text: string } }>) =>
    defineTool({
      name,
      version: '1.0.0',
      title,
      description: 'd',
      input: Type.Object({ text: Type.String() }),
      output: Type.Object({}),
      examples,
      handler: () => ({}),
    })
  r.addTools([
    tool('b.tool', 'Pipes | in a title', [{ input: { text: 'x' } }]),
    tool('a.tool', 'Greets', [{ input: { text: 'hi 👋' } }, { input: { text: 'second' } }]),
  ])
  return r
}

describe("the README's tool table", () => {
  it('lists every tool with its title and first example input, in registry order, aligned', () => {
    expect(toolTable(registry())).toBe(
      [
        '| id             | what it does        | example input      |',
        '| -------------- | ------------------- | ------------------ |',
        '| `a.tool@1.0.0` | Greets              | `{"text":"hi 👋"}` |',
        '| `b.tool@1.0.0` | Pipes \\| in a title | `{"text":"x"}`     |',
      ].join('\n'),
    )
  })

  it('replaces only what is between the markers, and refuses a README without them', () => {
    const readme = `# Title\n\n${TOOLS_START}\nold table\n${TOOLS_END}\n\nAfter.\n`
    expect(withToolTable(readme, '| t |')).toBe(
      `# Title\n\n${TOOLS_START}\n\n| t |\n\n${TOOLS_END}\n\nAfter.\n`,
    )
    expect(() => withToolTable('# no markers\n', '| t |')).toThrow(/needs the markers/)
  })
})
