import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createLogger } from '../common.ts'
import type { OcaProvider } from './provider.ts'
import { MAX_PROVIDER_BODY_BYTES, type ProviderServer, serveProvider } from './provider-server.ts'

/** The endpoint's refusals; accepted messages are tested end to end (test/e2e/oca-job.test.ts). */
describe('the provider endpoint', () => {
  let server: ProviderServer
  before(async () => {
    server = await serveProvider({ logger: createLogger({ silent: true }) })
  })
  after(async () => {
    await server?.close()
  })
  const post = async (body: string | Uint8Array, method = 'POST') => {
    const res = await fetch(server.url, { method, body: method === 'GET' ? undefined : body })
    return { status: res.status, json: (await res.json()) as { error?: string; details?: string } }
  }
  const commitset = {
    kind: 'commitset',
    round: 1,
    view: 0,
    member: 1,
    message: `0x${'11'.repeat(32)}`,
    commitments: [{ member: 1, commitment: `0x${'22'.repeat(32)}` }],
    signature: `0x${'33'.repeat(65)}`,
  }

  it('names what is malformed, and refuses other methods and large bodies', async () => {
    assert.equal((await post('', 'GET')).status, 405)
    const notJson = await post('{nope')
    assert.equal(notJson.status, 400)
    assert.match(notJson.json.error ?? '', /not JSON/)
    const wrong = await post(JSON.stringify({ kind: 'commitset', round: 'one' }))
    assert.equal(wrong.status, 400)
    assert.match(wrong.json.error ?? '', /malformed provider message/)
    assert.equal((await post(new Uint8Array(MAX_PROVIDER_BODY_BYTES + 1))).status, 413)
  })

  it('answers 503 before it has a provider, then hands messages over', async () => {
    const first = await post(JSON.stringify(commitset))
    if (first.status === 400) assert.fail(`the sample message is malformed: ${first.json.details}`)
    assert.equal(first.status, 503)
    const seen: unknown[] = []
    server.setProvider({
      receive: async (m) => {
        seen.push(m)
        return false
      },
    } as OcaProvider)
    const refused = await post(JSON.stringify(commitset))
    assert.equal(refused.status, 422)
    assert.equal(seen.length, 1)
  })
})
