import type { Registry } from '@arw/registry'

/** The README holds the table of tools that ship between these markers; docgen writes what is between. */
export const README = 'README.md'
export const TOOLS_START =
  '<!-- docgen:tools (generated from the registry by npm run docgen; do not edit) -->'
export const TOOLS_END = '<!-- /docgen:tools -->'

/**
 * The tools the daemon serves by default, one row each: id, title and the input of its first
 * example, aligned as the repository's formatter aligns Markdown tables (so formatting it is a
 * no-op and `--check` stays green).
 */
export function toolTable(registry: Registry): string {
  const rows = registry.tools().map((tool) => {
    const example = tool.examples[0]
    return [
      `\`${tool.id}\``,
      cell(tool.title),
      example === undefined ? '' : `\`${cell(JSON.stringify(example.input))}\``,
    ]
  })
  const header = ['id', 'what it does', 'example input']
  const widths = header.map((h, i) => Math.max(width(h), 3, ...rows.map((r) => width(r[i]!))))
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => c + ' '.repeat(widths[i]! - width(c))).join(' | ')} |`
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

/** `readme` with the table between the markers replaced; throws when the markers are missing. */
export function withToolTable(readme: string, table: string): string {
  const start = readme.indexOf(TOOLS_START)
  const end = readme.indexOf(TOOLS_END)
  if (start === -1 || end === -1 || end < start)
    throw new Error(`${README} needs the markers ${TOOLS_START} and ${TOOLS_END} around its tool table`)
  return `${readme.slice(0, start + TOOLS_START.length)}\n\n${table}\n\n${readme.slice(end)}`
}

const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' })

/** Emoji and East Asian wide characters take two columns. */
const WIDE =
  /\p{Extended_Pictographic}|[\u1100-\u115F\u2E80-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6]/u

/** A cell's width as the formatter measures it: user-perceived characters, wide ones as two. */
function width(text: string): number {
  let n = 0
  for (const { segment } of graphemes.segment(text)) n += WIDE.test(segment) ? 2 : 1
  return n
}

/** A table cell: pipes escaped, on one line. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ')
}
