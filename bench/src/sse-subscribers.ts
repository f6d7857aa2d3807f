import { request } from 'node:http'

// Opens N SSE subscribers to one URL and counts the event frames they receive. The parent asks
// for the running total by writing a line to stdin; totals are printed as JSON lines.
const [url, countArg, headersArg] = process.argv.slice(2)
const n = Number(countArg)
const headers = JSON.parse(headersArg ?? '{}') as Record<string, string>
let frames = 0
let open = 0
let closed = 0

function countFrames(chunk: string): number {
  let count = 0
  let at = chunk.indexOf('data: ')
  while (at !== -1) {
    count++
    at = chunk.indexOf('data: ', at + 6)
  }
  return count
}

for (let i = 0; i < n; i++) {
  const req = request(url!, { headers: { accept: 'text/event-stream', ...headers }, agent: false }, (res) => {
    open++
    if (open === n) process.stdout.write(`${JSON.stringify({ ready: true })}\n`)
    res.setEncoding('utf8')
    res.on('data', (chunk: string) => {
      frames += countFrames(chunk)
    })
    res.on('close', () => {
      closed++
    })
  })
  req.on('error', () => {
    closed++
  })
  req.end()
}

process.stdin.setEncoding('utf8')
process.stdin.on('data', () => process.stdout.write(`${JSON.stringify({ frames, open, closed })}\n`))
process.stdin.on('end', () => process.exit(0))
