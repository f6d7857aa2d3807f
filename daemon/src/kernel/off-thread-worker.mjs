// The entry of every off-thread worker (kernel/off-thread.ts). Plain JavaScript, because a worker
// thread does not inherit the loader its parent runs under (tsx for `npm start` and the CLI,
// vitest's own in tests): it registers tsx itself, then imports the task modules, which are
// TypeScript, once per worker.
import { register } from 'tsx/esm/api'

register()
const modules = new Map()

export default async function run({ module, name, input }) {
  let loaded = modules.get(module)
  if (!loaded) {
    loaded = import(module)
    modules.set(module, loaded)
  }
  const task = (await loaded)[name]
  if (typeof task !== 'function') throw new TypeError(`${module} exports no function ${name}`)
  return task(input)
}
