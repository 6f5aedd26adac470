/**
 * A minimal external adapter for `bench:adapters` (bridge case): answers `{result: <x>}` for
 * `{"data": {"x": <number>}}`, served by the adapter SDK on 127.0.0.1. Prints its URL.
 */
import { defineAdapter } from '../src/adapters/sdk.ts'
import { serveAdapter } from '../src/adapters/server.ts'

const server = await serveAdapter(
  defineAdapter({
    name: 'echo',
    input: { type: 'object', properties: { x: { type: 'number' } }, required: ['x'] },
    output: { type: 'object', properties: { result: { type: 'number' } }, required: ['result'] },
    run: (input: { x: number }) => ({ result: input.x }),
  }),
)
console.log(`listening on ${server.url} `)
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0))
})
