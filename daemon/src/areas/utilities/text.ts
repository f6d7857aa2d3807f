import { defineTool } from '@arw/registry'
import Type from 'typebox'
import { offThread } from '../../kernel/off-thread.ts'
import type { TextStats } from './text-work.ts'

/** Counts an agent needs before it pastes text somewhere with limits (a form, a prompt, an SMS). */
export const textStats = defineTool({
  name: 'text.stats',
  version: '1.0.0',
  title: 'Text statistics',
  description:
    'Counts characters (Unicode code points and user-perceived graphemes), UTF-8 bytes, words, lines and sentences of a text.',
  input: Type.Object({ text: Type.String({ maxLength: 1_000_000 }) }, { additionalProperties: false }),
  output: Type.Object(
    {
      code_points: Type.Integer({ minimum: 0 }),
      graphemes: Type.Integer({ minimum: 0 }),
      utf8_bytes: Type.Integer({ minimum: 0 }),
      words: Type.Integer({ minimum: 0 }),
      lines: Type.Integer({ minimum: 0 }),
      sentences: Type.Integer({ minimum: 0 }),
    },
    { additionalProperties: false },
  ),
  hints: { readOnly: true, idempotent: true, openWorld: false },
  capabilities: ['text'],
  timeoutMs: 5000,
  // Segmenting a megabyte takes a second of CPU: off the event loop, stopped by the timeout.
  examples: [
    {
      title: 'Counts of a short text',
      input: { text: 'Hello world. How are you?\nFine 👋🏽' },
      output: { code_points: 33, graphemes: 32, utf8_bytes: 39, words: 6, lines: 2, sentences: 3 },
    },
  ],
  handler: offThread<{ text: string }, TextStats>(new URL('./text-work.ts', import.meta.url), 'stats'),
})
