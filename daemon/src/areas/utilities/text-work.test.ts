import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { countGraphemes, countSegments, stats } from './text-work.ts'

type Granularity = 'grapheme' | 'word' | 'sentence'

/** The reference: one Intl.Segmenter pass over the whole text (correct, but quadratic in V8). */
function whole(text: string, granularity: Granularity): number {
  let n = 0
  for (const s of new Intl.Segmenter('en', { granularity }).segment(text)) {
    if (granularity === 'word' ? s.isWordLike : granularity === 'sentence' ? s.segment.trim() !== '' : true)
      n++
  }
  return n
}

// Pieces that stress segment rules across a window's cut: contractions, decimals, abbreviations,
// closing punctuation, CR LF, combining marks, emoji with modifiers and ZWJ, flags.
const PIECES = [
  'word',
  'Can',
  "'",
  't',
  ' ',
  '  ',
  '.',
  '?',
  '!',
  '3',
  '.14',
  ',',
  '"',
  ')',
  '(',
  'e.g.',
  'Dr.',
  '\r\n',
  '\n',
  '\r',
  'e\u0301',
  '\u0301',
  '👍🏽',
  '👩‍💻',
  '🇫🇷',
  '🇩',
  '日本語',
  'ß',
  '\t',
  'a',
  'Z',
]
const text = fc.array(fc.constantFrom(...PIECES), { maxLength: 300 }).map((p) => p.join(''))

describe('text.stats work', () => {
  it('counts in windows exactly what one pass over the whole text counts', () => {
    for (const granularity of ['grapheme', 'word', 'sentence'] as const) {
      fc.assert(
        fc.property(text, (t) => {
          // Small windows, so nearly every case cuts through the text many times.
          expect(countSegments(t, granularity, { size: 64, margin: 24 })).toBe(whole(t, granularity))
        }),
        { numRuns: 300 },
      )
    }
  })

  it('counts graphemes with its ASCII shortcut exactly as the segmenter does', () => {
    fc.assert(
      fc.property(text, (t) => {
        expect(countGraphemes(t)).toBe(whole(t, 'grapheme'))
      }),
      { numRuns: 500 },
    )
  })

  it('counts code points, bytes and lines like the string operations it replaces', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 200 }),
        fc.constantFrom('', '\n', '\r\n', '\r'),
        (t, eol) => {
          const input = `${t}${eol}${t}`
          const result = stats({ text: input })
          expect(result.code_points).toBe([...input].length)
          expect(result.utf8_bytes).toBe(Buffer.byteLength(input, 'utf8'))
          expect(result.lines).toBe(input === '' ? 0 : input.split(/\r\n|\r|\n/).length)
        },
      ),
    )
  })
})
