import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { Address } from 'viem'
import { PriceConsumerAbi } from '../../artifacts/abis.ts'
import { defineAdapter, pending } from '../../src/adapters/sdk.ts'
import { serveAdapter } from '../../src/adapters/server.ts'
import { type SimulatedSource, startSimulatedSource } from '../../src/adapters/sources/simulated.ts'
import type { CoreDeployment } from '../../src/chain/deploy.ts'
import { LINK, send, type TestChain } from '../../src/chain/testing.ts'
import type { DirectRequestEvent } from '../../src/node/directrequest.ts'
import { specIdOf } from '../../src/node/directrequest.ts'
import { freePort } from '../../src/oca/local-committee.ts'
import { multiply, parseDecimal, truncate } from '../../src/pipeline/decimal.ts'
import { GET_UINT256, type NodeWorld, startNodeWorld, waitFor } from './node-setup.ts'

/**
 * The node end to end on anvil with a real database (PGlite, or the Postgres server named by
 * DATABASE_URL): a consumer's request → the node's run → fulfillOracleRequest2 through the
 * transaction manager → the consumer holds the answer. Requests outside a job's allow-list or
 * below its minimum payment start no run.
 */

/** The fixture for `operator`, with `extra` (`key = value`) replacing or adding a line. */
function jobToml(operator: Address, externalJobID: string, extra = ''): string {
  let toml = GET_UINT256.replace(
    /externalJobID = ".*"/,
    `externalJobID = "${externalJobID}"`,
  ).replaceAll('0x613a38AC1659769640aaE063C651F48E0250454C', operator)
  if (extra) {
    const key = extra.split('=')[0]!.trim()
    const line = new RegExp(`^${key} = .*$`, 'm')
    toml = line.test(toml)
      ? toml.replace(line, extra)
      : toml.replace(/^(externalJobID = .*)$/m, `$1\n${extra}`)
  }
  return toml
}

describe(`oracle node, direct requests (${process.env.DATABASE_URL ? 'Postgres' : 'PGlite'})`, () => {
  let w: NodeWorld
  let chain: TestChain
  let core: CoreDeployment
  let consumer: Address
  let source: SimulatedSource
  let events: DirectRequestEvent[]
  const node = () => w.node()
  const api = (method: string, path: string, body?: string) => w.api(method, path, body)
  const start = () => w.start()
  const request = async (externalJobID: string, payment: bigint) => {
    await send(chain.owner, {
      address: consumer,
      abi: PriceConsumerAbi,
      functionName: 'requestValue',
      args: [specIdOf(externalJobID), payment, source.priceUrl('ETH-USD'), 'price', 100n, true],
    })
  }
  const runsOf = async (jobId: string) =>
    Number((await api('GET', `/v2/jobs/${jobId}/runs`)).json.total)

  before(async () => {
    w = await startNodeWorld('orakel-node-')
    ;({ chain, core, consumer, events } = w)
    source = await startSimulatedSource({ pairs: { 'ETH-USD': 3000 }, seed: 11 })
    await start()
  })
  after(async () => {
    await w?.close()
    await source?.stop()
  })

  it('answers a consumer request on chain, once, also across a restart', async () => {
    const externalJobID = randomUUID()
    const created = await api('POST', '/v2/jobs', jobToml(core.operator, externalJobID))
    assert.equal(created.status, 201, JSON.stringify(created.json))
    const jobId = String((created.json.job as { id: string }).id)

    await request(externalJobID, LINK / 10n)
    const answer = await waitFor('the answer on chain', async () => {
      const v = await chain.owner.readContract({
        address: consumer,
        abi: PriceConsumerAbi,
        functionName: 'latestAnswer',
      })
      return v === 0n ? undefined : v
    })
    const price = source.served.at(-1)!.price
    assert.equal(answer, truncate(multiply(parseDecimal(price), parseDecimal(100))))
    assert.equal(await runsOf(jobId), 1)
    assert.ok(events.some((e) => e.kind === 'tx-enqueued'))

    // A restart re-reads recent blocks; the request is not run again.
    await node().stop()
    await start()
    await new Promise((r) => setTimeout(r, 500))
    assert.equal(await runsOf(jobId), 1)
  })

  it('waits for an asynchronous adapter: resumed by its PATCH with the right token only', async () => {
    // An adapter that answers "pending" and sends the price later, when the test says so.
    let release: (price: number) => void = () => {}
    const later = new Promise<number>((r) => {
      release = r
    })
    const adapter = defineAdapter({
      name: 'slowprice',
      input: { type: 'object', properties: { pair: { type: 'string' } }, required: ['pair'] },
      output: { type: 'object', properties: { result: { type: 'number' } }, required: ['result'] },
      run: () => pending(later.then((price) => ({ result: price }))),
    })
    // The bridge needs the adapter's URL, the adapter the bridge's incoming token.
    const port = await freePort()
    const added = await fetch(`${node().apiUrl}/v2/bridges`, {
      method: 'POST',
      headers: { authorization: `Bearer ${node().apiToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'slowprice', url: `http://127.0.0.1:${port}` }),
    })
    assert.equal(added.status, 201)
    const { incomingToken } = (await added.json()) as { incomingToken: string }
    const server = await serveAdapter(adapter, { port, callbackToken: incomingToken })
    try {
      const externalJobID = randomUUID()
      const toml = jobToml(core.operator, externalJobID)
        .replace(
          /fetch {8}\[type="http"[^\]]*\]/,
          String.raw`fetch        [type="bridge" name="slowprice" async="true" requestData="{\\"data\\": {\\"pair\\": \\"ETH-USD\\"}}"]`,
        )
        .replace('path="$(decode_cbor.path)"', 'path="data,result"')
      assert.match(toml, /type="bridge"/)
      const created = await api('POST', '/v2/jobs', toml)
      assert.equal(created.status, 201, JSON.stringify(created.json))
      const jobId = String((created.json.job as { id: string }).id)
      const before = await chain.owner.readContract({
        address: consumer,
        abi: PriceConsumerAbi,
        functionName: 'latestAnswer',
      })

      await request(externalJobID, LINK / 10n)
      const run = await waitFor('the run to wait for the adapter', async () => {
        const runs = (await api('GET', `/v2/jobs/${jobId}/runs`)).json.runs as {
          runId: string
          state: string
          pendingTask: string | null
        }[]
        return runs[0]?.state === 'suspended' ? runs[0] : undefined
      })
      assert.equal(run.pendingTask, 'fetch')

      const patch = (token: string, body: unknown) =>
        fetch(`${node().apiUrl}/v2/resume/${run.runId}`, {
          method: 'PATCH',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        })
      const wrong = await patch('not-the-token', { value: { data: { result: 1 } }, error: null })
      assert.equal(wrong.status, 401)
      assert.match(((await wrong.json()) as { error: string }).error, /incoming token/)
      const waiting = (await api('GET', `/v2/runs/${run.runId}`)).json.run as { state: string }
      assert.equal(waiting.state, 'suspended')

      release(2345.67)
      const answer = await waitFor('the resumed answer on chain', async () => {
        const v = await chain.owner.readContract({
          address: consumer,
          abi: PriceConsumerAbi,
          functionName: 'latestAnswer',
        })
        return v === before ? undefined : v
      })
      assert.equal(answer, 234567n)
      await server.idle()
      assert.deepEqual(
        server.callbacks.map((c) => [c.delivered, c.status]),
        [[true, 200]],
      )
      const done = (await api('GET', `/v2/runs/${run.runId}`)).json.run as Record<string, unknown>
      assert.equal(done.state, 'completed')
      const tasks = done.tasks as { taskId: string }[]
      assert.ok(tasks.some((t) => t.taskId === 'fetch'))
      assert.ok(tasks.some((t) => t.taskId === 'decode_log'))
      // The same answer again: the run is no longer waiting.
      const again = await patch(incomingToken, { value: { data: { result: 1 } }, error: null })
      assert.equal(again.status, 404)
    } finally {
      release(0) // a failed assertion must not leave the adapter's answer pending forever
      await server.close()
    }
  })

  it('starts no run for a requester outside the allow-list or a payment below the minimum', async () => {
    const allowList = randomUUID()
    const minimum = randomUUID()
    const a = await api(
      'POST',
      '/v2/jobs',
      jobToml(
        core.operator,
        allowList,
        'requesters = ["0x0000000000000000000000000000000000000001"]',
      ),
    )
    const b = await api(
      'POST',
      '/v2/jobs',
      jobToml(core.operator, minimum, `minContractPaymentLinkJuels = "${LINK}"`),
    )
    assert.equal(a.status, 201, JSON.stringify(a.json))
    assert.equal(b.status, 201, JSON.stringify(b.json))
    await request(allowList, LINK / 10n)
    await request(minimum, LINK / 10n)
    const rejected = await waitFor('two rejections', () => {
      const r = events.filter((e) => e.kind === 'rejected')
      return r.length >= 2 ? r : undefined
    })
    const reasons = rejected.map((e) => (e as { reason: string }).reason).join('\n')
    assert.match(reasons, /is not on the job's requesters list/)
    assert.match(reasons, /below the job's minimum/)
    assert.equal(await runsOf(String((a.json.job as { id: string }).id)), 0)
    assert.equal(await runsOf(String((b.json.job as { id: string }).id)), 0)
  })
})
