import { runCli } from '../../daemon/src/cli/main.ts'

/** What one in-process `arw` run printed and its exit status. */
export interface CliRun {
  code: number
  out: string
  err: string
}

/** Runs `arw <args>` in this process against a daemon named by `env`, collecting its output. */
export async function runArw(args: string[], env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<CliRun> {
  let out = ''
  let err = ''
  const code = await runCli(args, {
    out: (t) => {
      out += t
    },
    err: (t) => {
      err += t
    },
    env,
    ...(signal ? { signal } : {}),
  })
  return { code, out, err }
}
