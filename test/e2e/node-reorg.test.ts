import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { type Address, encodeFunctionData, type Hex } from 'viem'
import { OperatorAbi, PriceConsumerAbi } from '../../artifacts/abis.ts'
import { type SimulatedSource, startSimulatedSource } from '../../src/adapters/sources/simulated.ts'
import type { CoreDeployment } from '../../src/chain/deploy.ts'
import { oracleRequestsIn } from '../../src/chain/operator-events.ts'
import { LINK, type TestChain } from '../../src/chain/testing.ts'
import type { DirectRequestEvent } from '../../src/node/directrequest.ts'
import { specIdOf } from '../../src/node/directrequest.ts'
import { startGatedSource } from './gated-source.ts'
import { GET_UINT256, type NodeWorld, startNodeWorld, waitFor } from './node-setup.ts'

/**
 * Reorgs and duplicate delivery, with the node in-process on anvil. `anvil_reorg [depth, txs]`
 * replaces the top `depth` blocks with new ones holding `txs` (signed bytes, block offset);
 * anvil does not put the dropped transactions back in its pool.
 *
 * - A request whose block is reorged out before the job's confirmations is never run; sent
 *   again, the same request (same transaction, same request id) is answered exactly once.
 * - A request reorged out after its run started: the run is cancelled without sending; the
 *   same transaction replayed in the reorg's new blocks is answered exactly once.
 * - A restart re-reads the recent blocks, and a shallow reorg above answered requests moves the
 *   node's cursors back: neither starts a second run or answer.
 */
const PAYMENT = LINK / 10n

type RunView = { runId: string; state: string; requestId: string; logBlockHash: string }

describe(`oracle node, reorgs and duplicate delivery (${process.env.DATABASE_URL ? 'Postgres' : 'PGlite'})`, () => {
  let w: NodeWorld
  let chain: TestChain
  let core: CoreDeployment
  let consumer: Address
  let source: SimulatedSource
  let gated: Awaited<ReturnType<typeof startGatedSource>>
  let events: DirectRequestEvent[]
  const node = () => w.node()
  const api = (method: string, path: string, body?: string) => w.api(method, path, body)
  const start = () => w.start()

  const rpc = <T = unknown>(method: string, params: unknown[] = []) =>
    chain.owner.request({ method, params } as never) as Promise<T>
  const headNumber = async () => BigInt(await rpc<Hex>('eth_blockNumber'))
  const mine = (blocks: number) => rpc('anvil_mine', [`0x${blocks.toString(16)}`])
  /** Waits until the node's log broadcaster has finished a poll at the chain's current head. */
  const settled = async () => {
    const head = await headNumber()
    await waitFor(`the node to poll block ${head}`, async () => {
      const status = (await api('GET', '/v2/status')).json
      return status.head !== undefined && BigInt(status.head as string) >= head ? true : undefined
    })
    // One more poll interval, for deliveries of that poll to commit and runs to start.
    await new Promise((r) => setTimeout(r, 200))
  }
  const createJob = async (confirmations: number) => {
    const externalJobID = randomUUID()
    const toml = GET_UINT256.replace(/externalJobID = ".*"/, `externalJobID = "${externalJobID}"`)
      .replace(/^minIncomingConfirmations = .*$/m, `minIncomingConfirmations = ${confirmations}`)
      .replaceAll('0x613a38AC1659769640aaE063C651F48E0250454C', core.operator)
    const created = await api('POST', '/v2/jobs', toml)
    assert.equal(created.status, 201, JSON.stringify(created.json))
    return { externalJobID, jobId: String((created.json.job as { id: string }).id) }
  }
  /** A request as signed bytes, so that the very same transaction can be sent again. */
  const signRequest = async (externalJobID: string, url: string): Promise<Hex> => {
    const prepared = await chain.owner.prepareTransactionRequest({
      to: consumer,
      data: encodeFunctionData({
        abi: PriceConsumerAbi,
        functionName: 'requestValue',
        args: [specIdOf(externalJobID), PAYMENT, url, 'price', 100n, true],
      }),
    })
    return chain.owner.signTransaction(prepared as never)
  }
  /** Sends signed bytes; returns the request id and the block the request is in. */
  const sendRequest = async (raw: Hex) => {
    const hash = await rpc<Hex>('eth_sendRawTransaction', [raw])
    const receipt = await chain.owner.waitForTransactionReceipt({ hash })
    assert.equal(receipt.status, 'success')
    const [req] = oracleRequestsIn(receipt)
    assert.ok(req)
    return { hash, requestId: req.requestId, block: receipt.blockNumber }
  }
  const runsOf = async (jobId: string) =>
    (await api('GET', `/v2/jobs/${jobId}/runs`)).json.runs as RunView[]
  const countEvents = async (eventName: 'OracleResponse' | 'AnswerReceived', requestId: Hex) =>
    (
      await chain.owner.getContractEvents({
        address: eventName === 'OracleResponse' ? core.operator : consumer,
        abi: eventName === 'OracleResponse' ? OperatorAbi : PriceConsumerAbi,
        eventName,
        args: { requestId },
        fromBlock: 0n,
      } as never)
    ).length
  const answered = (requestId: Hex) =>
    waitFor('the answer on chain', async () =>
      (await countEvents('AnswerReceived', requestId)) > 0 ? true : undefined,
    )

  const jobs: string[] = []
  const requests: Hex[] = []

  before(async () => {
    w = await startNodeWorld('orakel-reorg-')
    ;({ chain, core, consumer, events } = w)
    source = await startSimulatedSource({ pairs: { 'ETH-USD': 3000 }, seed: 3 })
    gated = await startGatedSource(2500)
    await start()
  })
  after(async () => {
    gated?.release()
    await w?.close()
    await source?.stop()
    await gated?.stop()
  })

  it('does not answer a request reorged out before its confirmations; sent again, answers it once', async () => {
    const { externalJobID, jobId } = await createJob(3)
    jobs.push(jobId)
    const raw = await signRequest(externalJobID, source.priceUrl('ETH-USD'))
    const first = await sendRequest(raw)
    requests.push(first.requestId)
    await mine(1)
    await settled()
    assert.equal((await runsOf(jobId)).length, 0, 'two confirmations of three: not due')

    // Both blocks replaced by empty ones, then enough blocks for the request to have been due.
    await rpc('anvil_reorg', [2, []])
    assert.equal(await rpc('eth_getTransactionReceipt', [first.hash]), null)
    await mine(4)
    await settled()
    assert.equal(await rpc('eth_getTransactionReceipt', [first.hash]), null, 'anvil re-mined it')
    assert.equal((await runsOf(jobId)).length, 0)
    assert.equal(await countEvents('OracleResponse', first.requestId), 0)
    assert.ok(!events.some((e) => e.kind === 'request' && e.requestId === first.requestId))

    // The same transaction again: the same request, now in another block.
    const again = await sendRequest(raw)
    assert.equal(again.requestId, first.requestId)
    assert.equal(again.hash, first.hash)
    assert.notEqual(again.block, first.block)
    await mine(2)
    await answered(again.requestId)
    await mine(3)
    await settled()
    assert.equal(await countEvents('OracleResponse', again.requestId), 1)
    assert.equal(await countEvents('AnswerReceived', again.requestId), 1)
    const runs = await waitFor('the run to complete', async () => {
      const r = await runsOf(jobId)
      return r.every((x) => x.state === 'completed') ? r : undefined
    })
    assert.equal(runs.length, 1)
    assert.equal(runs[0]!.requestId, again.requestId)
  })

  it('cancels a started run whose request is reorged out; replayed in the new blocks, answers it once', async () => {
    const { externalJobID, jobId } = await createJob(2)
    jobs.push(jobId)
    const raw = await signRequest(externalJobID, gated.url)
    const first = await sendRequest(raw)
    requests.push(first.requestId)
    await mine(1)
    // Due: the run starts and waits on the source.
    await waitFor('the run to reach the source', () => (gated.held() > 0 ? true : undefined))
    const [started] = await runsOf(jobId)
    assert.equal(started?.state, 'running')
    const oldBlockHash = started.logBlockHash

    // The two blocks replaced; the same transaction is in the second new block.
    await rpc('anvil_reorg', [2, [[raw, 1]]])
    const receipt = await chain.owner.getTransactionReceipt({ hash: first.hash })
    assert.equal(receipt.blockNumber, first.block + 1n)
    await waitFor('the run to be cancelled', async () =>
      (await runsOf(jobId)).find((r) => r.runId === started.runId)?.state === 'cancelled'
        ? true
        : undefined,
    )
    gated.release()
    await mine(1)
    await answered(first.requestId)
    await mine(3)
    await settled()
    assert.equal(await countEvents('OracleResponse', first.requestId), 1)
    assert.equal(await countEvents('AnswerReceived', first.requestId), 1)
    assert.ok(!events.some((e) => e.kind === 'tx-enqueued' && e.runId === started.runId))
    const runs = await waitFor('the new run to complete', async () => {
      const r = await runsOf(jobId)
      return r.length === 2 && r.some((x) => x.state === 'completed') ? r : undefined
    })
    const byState = Object.fromEntries(runs.map((r) => [r.state, r]))
    assert.deepEqual(Object.keys(byState).sort(), ['cancelled', 'completed'])
    assert.equal(byState.cancelled!.logBlockHash, oldBlockHash)
    assert.equal(byState.completed!.logBlockHash, receipt.blockHash)
  })

  it('starts no second run or answer after a restart or a shallow reorg', async () => {
    assert.equal(jobs.length, 2, 'runs after the tests above')
    const counts = async () => ({
      runs: await Promise.all(jobs.map(async (j) => (await runsOf(j)).length)),
      responses: await Promise.all(requests.map((id) => countEvents('OracleResponse', id))),
    })
    const expected = { runs: [1, 2], responses: [1, 1] }
    assert.deepEqual(await counts(), expected)
    const requestEvents = events.filter((e) => e.kind === 'request').length

    // A restart re-reads the last finalityDepth blocks, all the requests above included.
    await node().stop()
    await start()
    await mine(2)
    await settled()
    assert.deepEqual(await counts(), expected)

    // A reorg above the requests' blocks: cursors move back, the logs are not delivered again.
    await rpc('anvil_reorg', [2, []])
    await mine(2)
    await settled()
    assert.deepEqual(await counts(), expected)
    assert.equal(events.filter((e) => e.kind === 'request').length, requestEvents)
  })
})
