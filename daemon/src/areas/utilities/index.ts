import { hashDigest } from './hash.ts'
import { textStats } from './text.ts'
import { timeNow } from './time.ts'

export const utilityTools = [hashDigest, textStats, timeNow]
