#!/usr/bin/env node
// The `arw` command: runs the TypeScript entry point through tsx (no build step; see README).
import { register } from 'tsx/esm/api'

register()
await import('../src/cli.ts')
