import { Agent, request } from 'node:http'
import { describe, expect, it } from 'vitest'
import { TEST_TOKEN, testDaemon } from '../testing/harness.ts'

describe('a token presented on a keep-alive connection', () => {
  it('is checked on every request of the connection: a changed token is judged anew, never by the one before', async () => {
    const d = await testDaemon({ token: TEST_TOKEN })
    const url = new URL(await d.listen())
    // One socket for every request, so each one arrives on the connection of the one before.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    const reused: boolean[] = []
    const call = (token: string | undefined) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          {
            agent,
            host: url.hostname,
            port: url.port,
            path: '/tools/demo.echo:invoke',
            method: 'POST',
            headers: { 'content-type': 'application/json', ...(token ? { 'x-arw-admin': token } : {}) },
          },
          (res) => {
            res.resume()
            res.on('end', () => resolve(res.statusCode ?? 0))
          },
        )
        req.on('error', reject)
        req.end(JSON.stringify({ input: { text: 'a' } }))
        reused.push(req.reusedSocket)
      })
    try {
      expect(await call(TEST_TOKEN)).toBe(200)
      expect(await call(`${TEST_TOKEN}x`)).toBe(401)
      expect(await call(TEST_TOKEN)).toBe(200)
      // A token one character off the good one, and none at all, each after the good one.
      expect(await call(`${TEST_TOKEN.slice(0, -1)}X`)).toBe(401)
      expect(await call(TEST_TOKEN)).toBe(200)
      expect(await call(undefined)).toBe(401)
      expect(await call(TEST_TOKEN)).toBe(200)
      expect(reused).toEqual([false, true, true, true, true, true, true])
    } finally {
      agent.destroy()
      await d.close()
    }
  })
})
