import { defineArea } from '../../kernel/area.ts'
import { hashDigest } from './hash.ts'
import { textStats } from './text.ts'
import { timeNow } from './time.ts'

export const utilities = defineArea({
  name: 'utilities',
  description: 'Small stateless tools agents often need: hashing, time zones, text counts.',
  tools: [hashDigest, textStats, timeNow],
})
