import { describe, expect, it } from 'vitest'
import { compare, findBlocks } from './blocks.ts'

describe('doc block discovery and output matching', () => {
  const doc = [
    '# Title',
    '```bash test setup',
    'echo hi',
    '```',
    '```json expected',
    '{"a": 1, "b": "…"}',
    '```',
    '```bash',
    'not run',
    '```',
    '```sh test stream=2',
    'curl -N x',
    '```',
  ].join('\n')

  it('finds runnable blocks, their options and expected output', () => {
    const blocks = findBlocks('doc.md', doc)
    expect(blocks.map((b) => [b.line, b.lang, b.code, b.streamSeconds])).toEqual([
      [2, 'bash', 'echo hi', undefined],
      [11, 'bash', 'curl -N x', 2],
    ])
    expect(blocks[0]!.expected).toEqual({ kind: 'json', body: '{"a": 1, "b": "…"}', line: 5 })
    // A setup block runs before every later block of its file.
    expect(blocks[1]!.prelude).toBe('echo hi')
  })

  it('matches JSON as a subset with wildcards, and says where it differs', () => {
    expect(compare('json', '{"a": 1, "b": "…"}', '{"a": 1, "b": [1], "c": 3}')).toBeUndefined()
    expect(compare('json', '{"a": 1, "b": "…"}', '{"a": 1}')).toBe('/b: missing')
    expect(compare('json', '{"a": {"x": [1, 2]}}', '{"a": {"x": [1, 3]}}')).toBe('/a/x/1: expected 2, got 3')
    expect(compare('json', '{"a": 1}', 'oops')).toMatch(/printed no JSON/)
  })

  it('matches text lines in order, with … for any run of characters', () => {
    expect(
      compare('text', 'ID …\ndemo.echo@1.0.0 …', 'ID  STABILITY\nx\ndemo.echo@1.0.0  stable'),
    ).toBeUndefined()
    expect(compare('text', 'b\na', 'a\nb')).toMatch(/no line matching "a"/)
  })
})
