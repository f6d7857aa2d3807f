// The work of text.stats, run on a worker thread (kernel/off-thread.ts): no daemon imports here.

type Granularity = 'grapheme' | 'word' | 'sentence'

/**
 * How much text one Intl.Segmenter pass sees, and how far from a window's end a boundary must lie
 * to be trusted. V8's segment iterator costs time proportional to the string it segments for every
 * segment it yields, so one pass over the whole text is quadratic (100k characters took seconds);
 * windows of a fixed size make it linear. A boundary near the window's end may be an artefact of
 * the cut (`can` + `'` before `t` arrives), so each window is trusted only up to its margin, and
 * the next starts at the last trusted boundary. Sentence rules look further ahead (closing
 * punctuation, spaces, a lowercase word after an abbreviation), hence their larger margin.
 */
export const WINDOWS: Record<Granularity, { size: number; margin: number }> = {
  grapheme: { size: 256, margin: 48 },
  word: { size: 256, margin: 48 },
  sentence: { size: 2048, margin: 512 },
}

const segmenters = new Map<Granularity, Intl.Segmenter>()

function counts(granularity: Granularity, segment: Intl.SegmentData): boolean {
  if (granularity === 'word') return segment.isWordLike === true
  if (granularity === 'sentence') return segment.segment.trim() !== ''
  return true
}

/** Segments of `text` that count (word-like words, non-blank sentences, every grapheme). */
export function countSegments(
  text: string,
  granularity: Granularity,
  window: { size: number; margin: number } = WINDOWS[granularity],
): number {
  let segmenter = segmenters.get(granularity)
  if (!segmenter) {
    segmenter = new Intl.Segmenter('en', { granularity })
    segmenters.set(granularity, segmenter)
  }
  let n = 0
  let start = 0
  let size = window.size
  while (start < text.length) {
    const end = Math.min(text.length, start + size)
    const final = end === text.length
    const limit = end - start - window.margin
    // A segment counts once its end (the next boundary) is trusted; the next window starts there.
    let previous: Intl.SegmentData | undefined
    let restart = 0
    let found = 0
    for (const segment of segmenter.segment(text.slice(start, end))) {
      if (previous) {
        if (!final && segment.index > limit) break
        if (counts(granularity, previous)) found++
        restart = segment.index
      }
      previous = segment
    }
    if (final) {
      if (previous && counts(granularity, previous)) found++
      n += found
      break
    }
    if (restart === 0) {
      // One segment fills the window (a very long sentence): look again with a larger one.
      size *= 2
      continue
    }
    n += found
    start += restart
    size = window.size
  }
  return n
}

/**
 * Graphemes, with ASCII counted directly: between two ASCII characters there is always a grapheme
 * boundary except inside CR LF (UAX #29: every rule that joins characters involves a non-ASCII
 * one), so only the stretches around non-ASCII characters, widened to such a boundary on both
 * sides, need the segmenter. Prose in Latin script is mostly ASCII: this is several times faster.
 */
export function countGraphemes(text: string): number {
  const clusters: Array<[number, number]> = []
  for (const match of text.matchAll(/[^\0-\x7f]+/g)) {
    let start = Math.max(0, match.index - 1)
    if (start > 0 && text.charCodeAt(start - 1) === 13 && text.charCodeAt(start) === 10) start--
    let end = Math.min(text.length, match.index + match[0].length + 1)
    if (end < text.length && text.charCodeAt(end - 1) === 13 && text.charCodeAt(end) === 10) end++
    const last = clusters.at(-1)
    if (last && start <= last[1]) last[1] = Math.max(last[1], end)
    else clusters.push([start, end])
  }
  let n = 0
  let ascii = 0
  const countAscii = (from: number, to: number) => {
    n += to - from
    for (let i = from; i + 1 < to; i++) if (text.charCodeAt(i) === 13 && text.charCodeAt(i + 1) === 10) n--
  }
  for (const [start, end] of clusters) {
    countAscii(ascii, start)
    n += countSegments(text.slice(start, end), 'grapheme')
    ascii = end
  }
  countAscii(ascii, text.length)
  return n
}

export interface TextStats {
  code_points: number
  graphemes: number
  utf8_bytes: number
  words: number
  lines: number
  sentences: number
}

/** Every count of text.stats, each linear in the length of the text. */
export function stats({ text }: { text: string }): TextStats {
  let codePoints = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    // A high surrogate followed by a low one is one code point.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) i++
    }
    codePoints++
  }
  let lines = text === '' ? 0 : 1
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 10) lines++
    else if (c === 13) {
      lines++
      if (text.charCodeAt(i + 1) === 10) i++
    }
  }
  return {
    code_points: codePoints,
    graphemes: countGraphemes(text),
    utf8_bytes: Buffer.byteLength(text, 'utf8'),
    words: countSegments(text, 'word'),
    lines,
    sentences: countSegments(text, 'sentence'),
  }
}
