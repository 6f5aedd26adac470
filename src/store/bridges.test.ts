import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { createHttpClient } from '../pipeline/http-client.ts'
import { buildPipeline } from '../pipeline/pipeline.ts'
import { runPipeline } from '../pipeline/runner.ts'
import { TASKS } from '../pipeline/tasks/index.ts'
import {
  BridgeExistsError,
  type BridgeRepository,
  BridgeValidationError,
  createBridgeRepository,
} from './bridges.ts'
import type { Db } from './db.ts'
import { openTestDatabase } from './testing.ts'

describe(`bridge repository (${process.env.DATABASE_URL ? 'Postgres server' : 'PGlite'})`, () => {
  let db: Db
  let bridges: BridgeRepository
  before(async () => {
    db = await openTestDatabase()
    bridges = createBridgeRepository(db)
  })
  after(() => db?.close())

  it('adds a bridge, returning its tokens once; stores only the incoming token hash', async () => {
    const added = await bridges.add({
      name: 'CoinGecko',
      url: 'https://cg.example/api',
      confirmations: 2,
    })
    assert.equal(added.bridge.name, 'coingecko')
    assert.equal(added.bridge.url, 'https://cg.example/api')
    assert.equal(added.bridge.confirmations, 2)
    assert.match(added.outgoingToken, /^[A-Za-z0-9_-]{32}$/)
    assert.match(added.incomingToken, /^[A-Za-z0-9_-]{32}$/)
    assert.notEqual(added.outgoingToken, added.incomingToken)
    const [row] = await db.query<Record<string, unknown>>('SELECT * FROM bridges')
    assert.ok(
      !Object.values(row!).includes(added.incomingToken),
      'incoming token not stored in clear',
    )
    assert.match(String(row!.incoming_token_hash), /^[0-9a-f]{64}$/)

    assert.equal(await bridges.verifyIncoming('coingecko', added.incomingToken), true)
    assert.equal(await bridges.verifyIncoming('coingecko', added.outgoingToken), false)
    assert.equal(await bridges.verifyIncoming('missing', added.incomingToken), false)

    const list = await bridges.list()
    assert.deepEqual(list, [added.bridge])
    assert.ok(!JSON.stringify(list).includes(added.outgoingToken))
    assert.deepEqual(await bridges.get('COINGECKO'), added.bridge)
    const b = await bridges.registry().get('CoinGecko')
    assert.equal(b?.outgoingToken, added.outgoingToken)
    assert.equal(b?.url, 'https://cg.example/api')
  })

  it('validates names and URLs and refuses duplicates', async () => {
    for (const name of ['', 'has space', 'a'.repeat(65), 'dot.name', 'ü']) {
      await assert.rejects(
        bridges.add({ name, url: 'http://x.example' }),
        BridgeValidationError,
        name,
      )
    }
    for (const url of [
      'ftp://x.example',
      'file:///etc/passwd',
      'not a url',
      'javascript:alert(1)',
    ]) {
      await assert.rejects(bridges.add({ name: 'ok', url }), BridgeValidationError, url)
    }
    await assert.rejects(
      bridges.add({ name: 'ok', url: 'http://x', confirmations: -1 }),
      BridgeValidationError,
    )
    await assert.rejects(
      bridges.add({ name: 'coingecko', url: 'http://x.example' }),
      BridgeExistsError,
    )
    assert.ok(await bridges.add({ name: 'a'.repeat(64), url: 'http://127.0.0.1:1/x' }))
  })

  it('removes a bridge', async () => {
    assert.equal((await bridges.remove('CoinGecko'))?.name, 'coingecko')
    assert.equal(await bridges.remove('coingecko'), undefined)
    assert.equal(await bridges.remove('bad name'), undefined)
    assert.equal(await bridges.get('coingecko'), undefined)
    assert.equal(await bridges.registry().get('coingecko'), undefined)
  })

  it('feeds the bridge task: the adapter receives the outgoing token', async () => {
    let auth: string | undefined
    const server = createServer((req, res) => {
      auth = req.headers.authorization
      req.resume()
      req.on('end', () => {
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ data: { result: 42 }, result: 42 }))
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const port = (server.address() as AddressInfo).port
      const { outgoingToken } = await bridges.add({
        name: 'local',
        url: `http://127.0.0.1:${port}/`,
      })
      const pipeline = buildPipeline('b [type=bridge name="local" requestData="{}"]', TASKS)
      const http = createHttpClient()
      const result = await runPipeline({
        pipeline,
        runId: 'r',
        deps: { bridges: bridges.registry(), http },
      })
      assert.equal(result.failed, false, String(result.errors[0]?.message))
      assert.equal(auth, `Bearer ${outgoingToken}`)
      http.close()
    } finally {
      server.close()
    }
  })
})
