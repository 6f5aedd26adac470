/** Helpers for adapter tests: a local JSON API and an HTTP client that reaches it by name. */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createHttpClient, type HttpClient } from '../pipeline/http-client.ts'

export type Seen = { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }

/** A route answers `[status, body]`; a string body is sent as is, anything else as JSON. */
export type Route = (req: Seen) => [number, unknown] | [number, unknown, Record<string, string>]

export type JsonApi = { port: number; seen: Seen[]; close(): Promise<void> }

/** A JSON API on 127.0.0.1 with the given routes (by path, query ignored); 404 elsewhere. */
export async function startJsonApi(routes: Record<string, Route>): Promise<JsonApi> {
  const seen: Seen[] = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const entry = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      }
      seen.push(entry)
      const route = routes[new URL(entry.url, 'http://x').pathname]
      const [status, body, headers = {}] = route ? route(entry) : [404, { error: 'not found' }]
      res.writeHead(status, { 'content-type': 'application/json', ...headers })
      res.end(typeof body === 'string' ? body : JSON.stringify(body))
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

/**
 * A guarded HTTP client (SSRF guard on) that resolves `api.test` and `other.test` to
 * 127.0.0.1 and lets exactly those names through, as if they were public hosts.
 */
export function testHttpClient(options: { allowUnrestricted?: boolean } = {}): HttpClient & {
  close(): void
} {
  const names = new Set(['api.test', 'other.test'])
  return createHttpClient({
    ...options,
    resolve: async (host) => (names.has(host) ? ['127.0.0.1'] : []),
    allowAddress: (ip, host) => ip === '127.0.0.1' && names.has(host),
  })
}
