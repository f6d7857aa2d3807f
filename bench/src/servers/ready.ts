import type { Server } from 'node:http'

/** Tells the bench runner (our parent) which port the server listens on. */
export function announce(port: number): void {
  process.stdout.write(`${JSON.stringify({ port })}\n`)
}

export function portOf(server: Server): number {
  const address = server.address()
  return typeof address === 'object' && address ? address.port : 0
}

/** Anchor servers exit with their parent: the runner kills them, and a lost parent closes stdin. */
process.stdin.on('end', () => process.exit(0))
process.stdin.resume()
