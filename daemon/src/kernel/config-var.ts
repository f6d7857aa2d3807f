/** One environment variable a daemon setting is read from, as `arw start --help` and the docs list it. */
export interface ConfigVar {
  name: string
  default: string
  description: string
}
