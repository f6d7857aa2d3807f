import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CONFIG_VARS, loadConfig } from '../../daemon/src/config.ts'
import { ROOT } from './run.ts'

describe('docs/configuration.md', () => {
  it('lists every variable the daemon reads, with its default and meaning', () => {
    const doc = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8')
    const rows = [...doc.matchAll(/^\|\s*`(ARW_\w+)`\s*\|\s*`([^`]*)`\s*\|\s*(.*?)\s*\|$/gm)].map((m) => ({
      name: m[1],
      default: m[2],
      description: m[3]!.replace(/\\\|/g, '|'),
    }))
    expect(rows).toEqual(
      CONFIG_VARS.map((v) => ({ name: v.name, default: v.default, description: v.description })),
    )
  })

  it('means what it says of switches: "1 or 0" accepts exactly those', () => {
    const switches = CONFIG_VARS.filter((v) => v.description.startsWith('1 or 0.'))
    expect(switches.map((v) => v.name)).toContain('ARW_DEBUG')
    for (const v of switches) {
      for (const value of ['1', '0', '']) expect(() => loadConfig({ [v.name]: value })).not.toThrow()
      for (const value of ['yes', 'true', 'on', '2'])
        expect(() => loadConfig({ [v.name]: value })).toThrow(v.name)
    }
  })
})
