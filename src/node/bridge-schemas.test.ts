import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { defineAdapter } from '../adapters/sdk.ts'
import { type AdapterServer, serveAdapter } from '../adapters/server.ts'
import { type JsonApi, startJsonApi } from '../adapters/testing.ts'
import { createLogger } from '../common.ts'
import { createHttpClient } from '../pipeline/http-client.ts'
import { parseJobSpec } from '../pipeline/job-spec.ts'
import { TASKS } from '../pipeline/tasks/index.ts'
import { createBridgeRepository } from '../store/bridges.ts'
import type { Db } from '../store/db.ts'
import { openTestDatabase } from '../store/testing.ts'
import { checkJobBridges } from './bridge-schemas.ts'

/** A job whose `fetch` task calls bridge `name` with `requestData` (DOT-escaped JSON). */
const job = (name: string, requestData: string) =>
  parseJobSpec(
    `type = "directrequest"
schemaVersion = 1
contractAddress = "0x613a38AC1659769640aaE063C651F48E0250454C"
observationSource = """
fetch [type="bridge" name="${name}" requestData="${requestData.replaceAll('"', '\\\\"')}"]
parse [type="jsonparse" path="data,result"]
fetch -> parse
"""
`,
    TASKS,
  )

describe('job creation: bridge parameters against adapter schemas', () => {
  let db: Db
  let adapter: AdapterServer
  let plain: JsonApi
  const http = createHttpClient()
  const deps = () => ({
    bridges: createBridgeRepository(db),
    http,
    logger: createLogger({ silent: true }),
  })

  before(async () => {
    db = await openTestDatabase()
    adapter = await serveAdapter(
      defineAdapter({
        name: 'price',
        input: {
          type: 'object',
          properties: {
            pair: { type: 'string', pattern: '^[A-Z]+-[A-Z]+$' },
            k: { type: 'integer' },
          },
          required: ['pair'],
          additionalProperties: false,
        },
        output: { type: 'object', properties: { result: { type: 'number' } } },
        run: () => ({ result: 1 }),
      }),
    )
    // An adapter written for Chainlink: no /schema.
    plain = await startJsonApi({ '/': () => [200, { data: { result: 1 }, statusCode: 200 }] })
    const bridges = createBridgeRepository(db)
    await bridges.add({ name: 'price', url: adapter.url })
    await bridges.add({ name: 'plain', url: `http://127.0.0.1:${plain.port}` })
  })
  after(async () => {
    await adapter?.close()
    await plain?.close()
    http.close()
    await db?.close()
  })

  it('accepts requestData that fits, with variables trusted', async () => {
    assert.deepEqual(await checkJobBridges(job('price', '{"pair": "ETH-USD"}'), deps()), [])
    assert.deepEqual(
      await checkJobBridges(job('price', '{"pair": $(jobRun.meta.pair), "k": 3}'), deps()),
      [],
    )
  })

  it('refuses literals that break the schema, naming the task and the path', async () => {
    const problems = await checkJobBridges(job('price', '{"pair": "eth/usd", "extra": 1}'), deps())
    assert.deepEqual(problems.map((p) => [p.task, p.path]).sort(), [
      ['fetch', 'data.extra'],
      ['fetch', 'data.pair'],
    ])
    assert.ok(problems.some((p) => /pattern/.test(p.message)))
    assert.ok(
      problems.some((p) => p.path === 'data.extra' && /not allowed|additional/.test(p.message)),
      JSON.stringify(problems),
    )
    const missing = await checkJobBridges(job('price', '{"k": "three"}'), deps())
    assert.deepEqual(missing.map((p) => p.path).sort(), ['data.k', 'data.pair'])
  })

  it('names an unknown bridge; does not check an adapter without a schema', async () => {
    assert.deepEqual(await checkJobBridges(job('nosuch', '{}'), deps()), [
      { task: 'fetch', path: 'name', message: 'no bridge named "nosuch"' },
    ])
    assert.deepEqual(await checkJobBridges(job('plain', '{"anything": [1]}'), deps()), [])
  })
})
