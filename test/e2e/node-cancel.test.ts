import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { Address, Hex } from 'viem'
import { OperatorAbi, PriceConsumerAbi } from '../../artifacts/abis.ts'
import { type SimulatedSource, startSimulatedSource } from '../../src/adapters/sources/simulated.ts'
import type { CoreDeployment } from '../../src/chain/deploy.ts'
import { type OracleRequestLog, oracleRequestsIn } from '../../src/chain/operator-events.ts'
import { LINK, linkBalance, send, type TestChain } from '../../src/chain/testing.ts'
import { type DirectRequestEvent, specIdOf } from '../../src/node/directrequest.ts'
import { startGatedSource } from './gated-source.ts'
import { GET_UINT256, type NodeWorld, startNodeWorld, waitFor } from './node-setup.ts'

/**
 * A request its consumer cancels on chain (`cancel` once the Operator's 5 minutes have passed,
 * moved forward with `evm_increaseTime`) while its run is still pending: the node stops the run
 * (state `cancelled`) and sends no fulfilment. Two ways to be pending: the run waits on a slow
 * data source, or the job waits for confirmations and the request and its cancellation become
 * due in the same poll.
 */
const PAYMENT = LINK / 10n

describe(`oracle node, cancelled requests (${process.env.DATABASE_URL ? 'Postgres' : 'PGlite'})`, () => {
  let w: NodeWorld
  let chain: TestChain
  let core: CoreDeployment
  let consumer: Address
  let source: SimulatedSource
  let gated: Awaited<ReturnType<typeof startGatedSource>>
  let events: DirectRequestEvent[]
  const node = () => w.node()
  const _api = (method: string, path: string, body?: string) => w.api(method, path, body)

  const rpc = (method: string, params: unknown[] = []) =>
    chain.owner.request({ method, params } as never)
  const api = async (method: string, path: string, body?: string) => {
    const res = await fetch(`${node().apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${node().apiToken}`, 'content-type': 'application/toml' },
      body,
    })
    return { status: res.status, json: (await res.json()) as Record<string, unknown> }
  }
  const createJob = async (extra = '') => {
    const externalJobID = randomUUID()
    let toml = GET_UINT256.replace(
      /externalJobID = ".*"/,
      `externalJobID = "${externalJobID}"`,
    ).replaceAll('0x613a38AC1659769640aaE063C651F48E0250454C', core.operator)
    if (extra) toml = toml.replace(/^minIncomingConfirmations = .*$/m, extra)
    const created = await api('POST', '/v2/jobs', toml)
    assert.equal(created.status, 201, JSON.stringify(created.json))
    return { externalJobID, jobId: String((created.json.job as { id: string }).id) }
  }
  const request = async (externalJobID: string, url: string): Promise<OracleRequestLog> => {
    const receipt = await send(chain.owner, {
      address: consumer,
      abi: PriceConsumerAbi,
      functionName: 'requestValue',
      args: [specIdOf(externalJobID), PAYMENT, url, 'price', 100n, true],
    })
    const [req] = oracleRequestsIn(receipt)
    assert.ok(req)
    return req
  }
  const cancel = (req: OracleRequestLog) =>
    send(chain.owner, {
      address: consumer,
      abi: PriceConsumerAbi,
      functionName: 'cancel',
      args: [req.requestId, req.payment, req.cancelExpiration],
    })
  const runsOf = async (jobId: string) =>
    (await api('GET', `/v2/jobs/${jobId}/runs`)).json.runs as {
      runId: string
      state: string
      requestId: string
    }[]
  const responsesFor = async (requestId: Hex) =>
    (
      await chain.owner.getContractEvents({
        address: core.operator,
        abi: OperatorAbi,
        eventName: 'OracleResponse',
        args: { requestId },
        fromBlock: 0n,
      })
    ).length
  /** The node's transactions to the Operator carrying this request id. */
  const txesFor = async (requestId: Hex) => {
    const rows = await node().common.db.query<{ state: string }>(
      'SELECT state FROM eth_txes WHERE data LIKE $1',
      [`%${requestId.slice(2).toLowerCase()}%`],
    )
    return rows.length
  }

  before(async () => {
    w = await startNodeWorld('orakel-cancel-')
    ;({ chain, core, consumer, events } = w)
    source = await startSimulatedSource({ pairs: { 'ETH-USD': 3000 }, seed: 7 })
    gated = await startGatedSource(3000)
    await w.start()
  })
  after(async () => {
    gated?.release()
    await w?.close()
    await source?.stop()
    await gated?.stop()
  })

  it('stops a run waiting on a slow source when its request is cancelled; no fulfilment', async () => {
    const { externalJobID, jobId } = await createJob()
    const req = await request(externalJobID, gated.url)
    // The run is under way, held in its http task.
    await waitFor('the run to reach the source', () => (gated.held() > 0 ? true : undefined))
    const [run] = await runsOf(jobId)
    assert.equal(run?.state, 'running')

    const before = await linkBalance(chain, core.linkToken, consumer)
    await rpc('evm_increaseTime', [301])
    await cancel(req)
    assert.equal(await linkBalance(chain, core.linkToken, consumer), before + PAYMENT)
    await waitFor('the run to be cancelled', async () =>
      (await runsOf(jobId))[0]?.state === 'cancelled' ? true : undefined,
    )
    assert.ok(events.some((e) => e.kind === 'cancelled' && e.requestId === req.requestId))

    // The source answers now; the cancelled run must not go on to send the answer.
    gated.release()
    await waitFor('the run to end', () =>
      events.some((e) => e.kind === 'run-finished' && e.runId === run.runId) ? true : undefined,
    )
    await new Promise((r) => setTimeout(r, 300))
    assert.equal((await runsOf(jobId))[0]?.state, 'cancelled')
    assert.ok(!events.some((e) => e.kind === 'tx-enqueued' && e.runId === run.runId))
    assert.equal(await txesFor(req.requestId), 0)
    assert.equal(await responsesFor(req.requestId), 0)
  })

  it('runs nothing for a request cancelled before its confirmations were reached', async () => {
    const { externalJobID, jobId } = await createJob('minIncomingConfirmations = 3')
    const served = source.served.length
    const req = await request(externalJobID, source.priceUrl('ETH-USD'))
    // Past the expiration (the next block's clock), the cancellation one block after the
    // request; then two blocks at once: both logs become due in the same poll.
    await rpc('evm_increaseTime', [301])
    await cancel(req)
    await new Promise((r) => setTimeout(r, 200))
    assert.equal((await runsOf(jobId)).length, 0, 'the request is not due yet')
    await rpc('anvil_mine', ['0x2'])
    const runs = await waitFor('a run for the request', async () => {
      const r = await runsOf(jobId)
      return r.length > 0 ? r : undefined
    })
    assert.equal(runs.length, 1)
    await waitFor('the run to be cancelled', async () =>
      (await runsOf(jobId))[0]?.state === 'cancelled' ? true : undefined,
    )
    // Some polls and transaction manager ticks later: still no answer, nothing sent.
    await rpc('anvil_mine', ['0x2'])
    await new Promise((r) => setTimeout(r, 500))
    assert.equal((await runsOf(jobId))[0]?.state, 'cancelled')
    assert.ok(!events.some((e) => e.kind === 'tx-enqueued' && e.runId === runs[0]!.runId))
    assert.equal(await txesFor(req.requestId), 0)
    assert.equal(await responsesFor(req.requestId), 0)
    assert.equal(source.served.length, served, 'the cancelled run fetched nothing')
  })
})
