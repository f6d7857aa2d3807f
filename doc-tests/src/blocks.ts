import { readFileSync } from 'node:fs'

/** A fenced example a doc marks as runnable, with what the doc says it prints. */
export interface DocBlock {
  file: string
  /** 1-based line of the opening fence. */
  line: number
  lang: 'bash' | 'ts'
  code: string
  /** `stream=N`: a command that does not end by itself; stopped after N seconds, then checked. */
  streamSeconds?: number
  /** `setup`: its code also runs before every later runnable block of the same file. */
  setup: boolean
  /** The setup blocks above it in its file, joined: run first. */
  prelude: string
  /** The block right after, fenced as `json expected` or `text expected`. */
  expected?: { kind: 'json' | 'text'; body: string; line: number }
}

const FENCE = /^(`{3,})\s*([\w-]*)\s*(.*)$/

/**
 * Finds runnable examples: fences whose info string is `bash test`, `sh test` or `ts test`
 * (options after `test`: `stream=N`, `setup`). A fence right after one, marked `json expected` or
 * `text expected`, is the output the example must print.
 */
export function findBlocks(file: string, text = readFileSync(file, 'utf8')): DocBlock[] {
  const lines = text.split('\n')
  const fences: Array<{ line: number; lang: string; info: string; body: string; end: number }> = []
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!)
    if (!open) continue
    const ticks = open[1]!
    const body: string[] = []
    let j = i + 1
    while (j < lines.length && !lines[j]!.startsWith(ticks)) body.push(lines[j++]!)
    fences.push({ line: i + 1, lang: open[2]!, info: open[3]!.trim(), body: body.join('\n'), end: j })
    i = j
  }
  const blocks: DocBlock[] = []
  for (let k = 0; k < fences.length; k++) {
    const fence = fences[k]!
    const words = fence.info.split(/\s+/)
    if (words[0] !== 'test') continue
    const lang =
      fence.lang === 'sh' || fence.lang === 'bash' ? 'bash' : fence.lang === 'ts' ? 'ts' : undefined
    if (!lang)
      throw new Error(`${file}:${fence.line}: a runnable block must be bash, sh or ts, not ${fence.lang}`)
    const setup = words.includes('setup')
    const prelude = blocks
      .filter((b) => b.setup && b.lang === lang)
      .map((b) => b.code)
      .join('\n')
    const block: DocBlock = { file, line: fence.line, lang, code: fence.body, setup, prelude }
    const stream = words.find((w) => w.startsWith('stream='))
    if (stream) block.streamSeconds = Number(stream.slice('stream='.length))
    const next = fences[k + 1]
    if (next && next.info === 'expected' && (next.lang === 'json' || next.lang === 'text')) {
      // Only a fence that follows directly (blank lines and prose of one line allowed) is the output.
      const between = lines.slice(fence.end + 1, next.line - 1).filter((l) => l.trim() !== '')
      if (between.length <= 1) block.expected = { kind: next.lang, body: next.body, line: next.line }
    }
    blocks.push(block)
  }
  return blocks
}

/** `…` (or `...`) in an expected JSON string value or text line matches anything. */
export const WILDCARD = /^(…|\.\.\.)$/

/**
 * Compares what an example printed with what its doc shows: JSON by structure, where the expected
 * value is a subset (objects may have more keys; "…" matches any value); text line by line in
 * order, where a line may contain "…" for any run of characters. Returns the first difference.
 */
export function compare(kind: 'json' | 'text', expected: string, actual: string): string | undefined {
  if (kind === 'json') {
    let want: unknown
    let got: unknown
    try {
      want = JSON.parse(expected)
    } catch (error) {
      return `the expected block is not JSON: ${(error as Error).message}`
    }
    try {
      got = JSON.parse(actual)
    } catch {
      return `the example printed no JSON:\n${actual.slice(0, 500)}`
    }
    return matchJson(want, got, '')
  }
  const gotLines = actual.split(/\r?\n/)
  let at = 0
  for (const line of expected.split('\n')) {
    if (line.trim() === '') continue
    const pattern = new RegExp(
      `^${line
        .split(/…|\.\.\./)
        .map(escapeRegExp)
        .join('.*')}$`,
    )
    while (at < gotLines.length && !pattern.test(gotLines[at]!)) at++
    if (at >= gotLines.length)
      return `no line matching ${JSON.stringify(line)} (in order) in:\n${actual.slice(0, 800)}`
    at++
  }
  return undefined
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

function matchJson(want: unknown, got: unknown, path: string): string | undefined {
  if (typeof want === 'string' && WILDCARD.test(want))
    return got === undefined ? `${path || '/'}: missing` : undefined
  if (Array.isArray(want)) {
    if (!Array.isArray(got)) return `${path || '/'}: expected an array, got ${JSON.stringify(got)}`
    if (want.length !== got.length) return `${path || '/'}: expected ${want.length} items, got ${got.length}`
    for (let i = 0; i < want.length; i++) {
      const diff = matchJson(want[i], got[i], `${path}/${i}`)
      if (diff) return diff
    }
    return undefined
  }
  if (want !== null && typeof want === 'object') {
    if (got === null || typeof got !== 'object' || Array.isArray(got)) {
      return `${path || '/'}: expected an object, got ${JSON.stringify(got)}`
    }
    for (const [key, value] of Object.entries(want)) {
      const diff = matchJson(value, (got as Record<string, unknown>)[key], `${path}/${key}`)
      if (diff) return diff
    }
    return undefined
  }
  return want === got
    ? undefined
    : `${path || '/'}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`
}
