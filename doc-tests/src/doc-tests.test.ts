import { readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type TestDaemon, testDaemon } from '../../daemon/src/testing/harness.ts'
import { compare, findBlocks } from './blocks.ts'
import { DOC_TOKEN, ROOT, runBlock } from './run.ts'

// Every example in README.md and docs/*.md marked runnable is executed against a daemon on a
// random loopback port; where the doc shows its output, the output must match.
const files = [
  join(ROOT, 'README.md'),
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => join(ROOT, 'docs', f)),
]
const blocks = files.flatMap((file) => findBlocks(file))

let d: TestDaemon
let base: string
beforeAll(async () => {
  d = await testDaemon({ token: DOC_TOKEN })
  await d.app.listen({ host: '127.0.0.1', port: 0 })
  const address = d.app.server.address()
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
})
afterAll(() => d?.close())

// A block may start the CLI several times; on a loaded 2-core machine that takes a while, so a
// block gets a minute (bounded by runBlock, which kills it) and the test a little more.
const BLOCK_LIMIT_MS = 60_000

describe('runnable examples in the docs', () => {
  it('finds examples to run in the README and the docs', () => {
    expect(blocks.filter((b) => b.file.endsWith('README.md')).length).toBeGreaterThanOrEqual(5)
    expect(new Set(blocks.map((b) => b.file)).size).toBeGreaterThanOrEqual(3)
  })

  for (const block of blocks) {
    const where = `${relative(ROOT, block.file)}:${block.line}`
    it(
      `${where} runs${block.expected ? ' and prints what the doc shows' : ''}`,
      async () => {
        const result = await runBlock(block, base, BLOCK_LIMIT_MS)
        const output = `--- stdout\n${result.stdout.slice(0, 2000)}\n--- stderr\n${result.stderr.slice(0, 2000)}`
        if (block.streamSeconds !== undefined) {
          expect(result.stdout.length, `${where}: the stream printed nothing\n${output}`).toBeGreaterThan(0)
        } else {
          expect(result.timedOut, `${where}: did not finish\n${output}`).toBe(false)
          expect(result.status, `${where}: exited with ${result.status}\n${output}`).toBe(0)
        }
        if (block.expected) {
          const diff = compare(block.expected.kind, block.expected.body, result.stdout)
          expect(
            diff,
            `${where}: the output differs from ${relative(ROOT, block.file)}:${block.expected.line}: ${diff}`,
          ).toBeUndefined()
        }
      },
      BLOCK_LIMIT_MS + 10_000,
    )
  }
})
