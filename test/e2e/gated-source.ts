import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A price source on 127.0.0.1 that holds every request until `release()`, so a test can keep a
 * node's run pending (for cancellations and reorgs) and then let it finish.
 */
export async function startGatedSource(price: number) {
  const held: ServerResponse[] = []
  let hits = 0
  let open = false
  const reply = (res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ price }))
  }
  const server = createServer((_req, res) => {
    hits++
    if (open) reply(res)
    else held.push(res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/price`,
    hits: () => hits,
    held: () => held.length,
    release() {
      open = true
      for (const res of held.splice(0)) if (!res.destroyed) reply(res)
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
