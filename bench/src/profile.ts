import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** The parts of a V8 `.cpuprofile` (what `node --cpu-prof` writes) that self time needs. */
interface CpuProfile {
  nodes: {
    id: number
    callFrame: { functionName: string; url: string; lineNumber: number }
  }[]
  startTime: number
  samples: number[]
  timeDeltas: number[]
}

export interface SelfTime {
  function: string
  /** `daemon/src/…:line`, `<package>/…:line` for node_modules, `node:…` for Node's own. */
  location: string
  ms: number
  /** Share of the busy (non-idle) samples. */
  percent: number
}

export interface ProfileSummary {
  file: string
  /** Wall time the counted samples cover, and the share of it the thread was not idle. */
  sampledMs: number
  busyPercent: number
  /** Whether only the samples of the measured round were counted (see summarizeProfile). */
  windowed: boolean
  functions: SelfTime[]
  files: SelfTime[]
}

const ROOT = new URL('../../', import.meta.url).pathname

function shorten(url: string): string {
  const path = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url
  const modules = path.lastIndexOf('/node_modules/')
  if (modules !== -1) return path.slice(modules + '/node_modules/'.length)
  if (path.startsWith(ROOT)) return path.slice(ROOT.length)
  return path || '(native)'
}

const IDLE = new Set(['(idle)'])

const sources = new Map<string, string[] | undefined>()

/**
 * tsx hands V8 whitespace-minified code, so every frame of a TypeScript file reads line 1. For a
 * named function of this repo, the line of its definition in the source is looked up instead; it
 * is left out when it cannot be found (a closure, a name defined twice).
 */
function definitionLine(url: string, name: string): number | undefined {
  if (!url.startsWith('file://') || !/\.[cm]?ts$/.test(url) || !/^#?[\w$]+$/.test(name)) return undefined
  if (!sources.has(url)) {
    try {
      sources.set(url, readFileSync(new URL(url), 'utf8').split('\n'))
    } catch {
      sources.set(url, undefined)
    }
  }
  const escaped = name.replace(/[$]/g, '\\$')
  const definition = new RegExp(
    `^\\s*(export\\s+)?(default\\s+)?(async\\s+)?(static\\s+)?((private|public|protected|readonly|override)\\s+)*((get|set)\\s+)?(function\\s*\\*?\\s*)?${escaped}\\s*(<.*>)?\\(|^\\s*(export\\s+)?(const|let)\\s+${escaped}\\s*[:=]`,
  )
  const lines = sources.get(url) ?? []
  // Resolved once per profile node; a function's nodes share the answer through `sources`' cache
  // of the file, not of the regex, which is cheap next to reading the profile.
  const found = lines.flatMap((line, i) => (definition.test(line) ? [i + 1] : []))
  return found.length === 1 ? found[0] : undefined
}

function locate(frame: { functionName: string; url: string; lineNumber: number }): string {
  const where = shorten(frame.url)
  if (!frame.url) return where
  if (frame.lineNumber > 0) return `${where}:${frame.lineNumber + 1}`
  const line = definitionLine(frame.url, frame.functionName)
  return line ? `${where}:${line}` : where
}

/**
 * Self time per function and per file of a profile. Each sample is charged the time until the
 * next one. When `window` (microseconds on the monotonic clock that V8 and `process.hrtime` share
 * on Linux) is given, only samples inside it count, so the daemon's start and its idle time
 * before the load do not drown the hot path; if no sample falls inside it (another clock), all
 * samples count and `windowed` says so.
 */
export function summarizeProfile(
  file: string,
  window?: { from: number; to: number },
  top = 20,
): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const frames = new Map(profile.nodes.map((n) => [n.id, { ...n.callFrame, location: locate(n.callFrame) }]))
  const times: number[] = []
  let t = profile.startTime
  for (const delta of profile.timeDeltas) {
    t += delta
    times.push(t)
  }
  const inWindow = (i: number) => !window || (times[i]! >= window.from && times[i]! <= window.to)
  const windowed = window !== undefined && profile.samples.some((_, i) => inWindow(i))
  const counted = (i: number) => !windowed || inWindow(i)
  const byFunction = new Map<string, SelfTime>()
  const byFile = new Map<string, SelfTime>()
  let total = 0
  let idle = 0
  const charge = (map: Map<string, SelfTime>, key: string, fn: string, location: string, us: number) => {
    const entry = map.get(key) ?? { function: fn, location, ms: 0, percent: 0 }
    entry.ms += us / 1000
    map.set(key, entry)
  }
  for (let i = 0; i < profile.samples.length - 1; i++) {
    if (!counted(i)) continue
    const us = times[i + 1]! - times[i]!
    const frame = frames.get(profile.samples[i]!)
    if (!frame) continue
    total += us
    const name = frame.functionName || '(anonymous)'
    if (IDLE.has(name)) {
      idle += us
      continue
    }
    charge(byFunction, `${name} ${frame.location}`, name, frame.location, us)
    const file = shorten(frame.url)
    charge(byFile, file, '', file, us)
  }
  const busyMs = (total - idle) / 1000
  const ranked = (map: Map<string, SelfTime>) =>
    [...map.values()]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top)
      .map((e) => ({ ...e, percent: busyMs > 0 ? (100 * e.ms) / busyMs : 0 }))
  return {
    file,
    sampledMs: total / 1000,
    busyPercent: total > 0 ? (100 * (total - idle)) / total : 0,
    windowed,
    functions: ranked(byFunction),
    files: ranked(byFile).slice(0, 10),
  }
}

/**
 * The main thread's profile in a `--cpu-prof-dir`: Node names them
 * `CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile`, thread 0 being the main thread (worker
 * threads, such as lmdb's writer, when they run JavaScript, write their own).
 */
export function mainThreadProfile(dir: string): string | undefined {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))
  const main = files.find((f) => f.split('.')[4] === '0') ?? files[0]
  return main ? join(dir, main) : undefined
}

/**
 * Prints the summary. With the requests answered in the window, each line also shows its self time
 * per request (µs), the figure that compares across profiles of different targets or loads.
 */
export function printProfile(summary: ProfileSummary, requests?: number): void {
  console.log(
    `\nmain thread: ${(summary.sampledMs / 1000).toFixed(1)} s sampled${summary.windowed ? ' (measured round only)' : ' (whole process: the window did not match the profile clock)'}, ${summary.busyPercent.toFixed(0)}% busy`,
  )
  const perRequest = (ms: number) =>
    requests && requests > 0 ? `${((ms * 1000) / requests).toFixed(2).padStart(8)}` : ''
  const busyUs = perRequest((summary.sampledMs * summary.busyPercent) / 100)
  if (busyUs) console.log(`busy time per request: ${busyUs.trim()} µs`)
  console.log(`\n### top self time by function (% of busy time${requests ? ', µs per request' : ''})`)
  console.log(
    'self ms'.padStart(9),
    '%'.padStart(6),
    requests ? 'µs/req'.padStart(8) : '',
    ' function',
    '  location',
  )
  for (const f of summary.functions) {
    console.log(
      f.ms.toFixed(1).padStart(9),
      f.percent.toFixed(1).padStart(6),
      perRequest(f.ms),
      ` ${f.function}`,
      ` ${f.location}`,
    )
  }
  console.log(`\n### top self time by file`)
  for (const f of summary.files) {
    console.log(
      f.ms.toFixed(1).padStart(9),
      f.percent.toFixed(1).padStart(6),
      perRequest(f.ms),
      ` ${f.location}`,
    )
  }
}
