import { readFileSync } from 'node:fs'
import { CLIENT_HELP, CLIENT_OPTIONS, type CliIO, clientFor, EXIT, parse, UsageError } from './io.ts'

export const INVOKE_HELP = `Usage: arw invoke <tool> [--input <json> | --input @file.json] [options]

Runs a tool through the daemon's governed pipeline and prints the answer as JSON:
{"output": ..., "tool": "id@x.y.z", "trace_id": ..., "duration_ms": ...}.
<tool> is a bare name (newest stable version) or name@x.y.z.
  --input, -i <json>         the tool's input (default {}); @path reads it from a file, @- from stdin
  --idempotency-key <key>    a retry with the same key returns the first answer
  --task <id>, --step <s>    group the call under a task (see /admin/probe)
  --output-only              print only the output
${CLIENT_HELP}
Exit status: 0 ok, 1 the daemon answered a problem (printed as JSON on stderr), 2 usage, 3 unreachable.
`

export const INVOKE_OPTIONS = {
  ...CLIENT_OPTIONS,
  input: { type: 'string', short: 'i' },
  'idempotency-key': { type: 'string' },
  task: { type: 'string' },
  step: { type: 'string' },
  'output-only': { type: 'boolean' },
} as const

export async function invokeCommand(args: readonly string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args, INVOKE_OPTIONS)
  if (values.help) {
    io.out(INVOKE_HELP)
    return EXIT.ok
  }
  if (positionals.length !== 1) throw new UsageError('invoke needs exactly one tool id')
  const input = readInput(values.input)
  const result = await clientFor(values, io).invoke(positionals[0]!, input, {
    ...(values['idempotency-key'] !== undefined ? { idempotencyKey: values['idempotency-key'] } : {}),
    ...(values.task !== undefined ? { taskId: values.task } : {}),
    ...(values.step !== undefined ? { step: values.step } : {}),
  })
  io.out(`${JSON.stringify(values['output-only'] ? result.output : result, null, 2)}\n`)
  return EXIT.ok
}

function readInput(raw: string | undefined): unknown {
  if (raw === undefined) return {}
  let text = raw
  if (raw.startsWith('@')) {
    const path = raw.slice(1)
    try {
      text = readFileSync(path === '-' ? 0 : path, 'utf8')
    } catch (error) {
      throw new UsageError(`cannot read --input ${raw}: ${(error as Error).message}`)
    }
  }
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new UsageError(`--input is not valid JSON: ${(error as Error).message}`)
  }
}
