import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  type Address,
  bytesToHex,
  encodeFunctionData,
  getAddress,
  parseEventLogs,
  zeroAddress,
} from 'viem'
import {
  OracleRegistryAbi,
  OracleRegistryBytecode,
  OrderMatchingAbi,
  SlaAggregatorFactoryAbi,
  ThresholdAggregatorAbi,
} from '../../artifacts/abis.ts'
import { ANVIL_PRIVATE_KEYS } from '../../src/chain/anvil.ts'
import { AGGREGATION_MODE } from '../../src/chain/market.ts'
import { deployContract, increaseTime, LINK } from '../../src/chain/testing.ts'
import { encodeDietCbor } from '../../src/pipeline/cbor-encode.ts'
import { type MarketWorld, REQUEST_JOB_ID, SPEC_ID, startMarketWorld } from './bidder-setup.ts'
import { waitFor } from './node-setup.ts'

/**
 * The bidder job in off-chain-aggregation mode, end to end on anvil: an OrderMatching market,
 * an OracleRegistry, five in-process nodes (anvil accounts 1–5), each with a commitreveal job
 * for the spec (whose pipeline the SLA member observes through) and a bidder job naming the
 * registry. A purchaser posts an OCA-mode SLA for n = 4; all five bid, the four cheapest are
 * selected (the fifth's deposit comes back at finalize). The committee registers its libp2p
 * identities, makes the group key by DKG over libp2p bound to the SLA's predicted aggregator,
 * confirms it on the market, the factory deploys the aggregator there, the committee transmits
 * one signed round, a member settles, and every member gets its deposit back with the payment.
 */

const PRICES = ['3000.10', '3000.20', '3000.30', '3000.40', '3000.50']
/** Asked per answer, in hundredths of a LINK; node 3 is the dearest and is left out. */
const ASKS = [50n, 60n, 40n, 70n, 30n]
const MIN_DEPOSIT = 5n * LINK
const SELECTED = [0, 1, 2, 4]

function bidderSpec(market: Address, registry: Address | undefined, i: number, job = i): string {
  return `type = "bidder"
schemaVersion = 1
name = "OCA SLA bids of node ${i}"
externalJobID = "0b1d2e3f-4a5b-4c6d-8e7f-00000000001${job}"
contractAddress = "${market}"
minIncomingConfirmations = 0
specIds = ["${REQUEST_JOB_ID}"]
price = "${(ASKS[i]! * LINK) / 100n}"
maxDeposit = "${10n * LINK}"
maxConcurrent = 2
${registry ? `registryAddress = "${registry}"\n` : ''}`
}

describe(`bidder job, OCA mode: 5 nodes bid on an SLA for 4 (${process.env.DATABASE_URL ? 'Postgres' : 'PGlite'})`, () => {
  let world: MarketWorld
  let registry: Address
  let chain: MarketWorld['chain']
  let market: Address
  let purchaser: MarketWorld['purchaser']
  let source: MarketWorld['source']
  let nodes: MarketWorld['nodes']
  const linkBalance = (who: Address) => world.linkBalance(who)
  const sla = (slaId: bigint) => world.sla(slaId)

  before(async () => {
    world = await startMarketWorld({
      prefix: 'orakel-bidder-oca-',
      keys: ANVIL_PRIVATE_KEYS.slice(1, 1 + PRICES.length),
      prices: PRICES,
      aggregators: 1,
    })
    ;({ chain, market, purchaser, source, nodes } = world)
    registry = await deployContract(world.chain.owner, {
      name: 'OracleRegistry',
      abi: OracleRegistryAbi,
      bytecode: OracleRegistryBytecode,
      args: [],
    })
  })

  after(async () => {
    await world?.close()
  })

  async function propose(): Promise<bigint> {
    const now = Number((await chain.owner.getBlock()).timestamp)
    const biddingEnd = now + 30
    const proposal = {
      specId: SPEC_ID,
      data: bytesToHex(encodeDietCbor({ get: source.url, path: 'price', times: 100 })),
      n: 4,
      mode: AGGREGATION_MODE.OffchainAggregation,
      aggregation: zeroAddress,
      minReputation: 0,
      agreementBps: 0,
      paymentPerOracle: LINK,
      minDeposit: MIN_DEPOSIT,
      biddingEnd,
      responseDeadline: biddingEnd + 300,
    }
    return world.propose(proposal, 4n * LINK)
  }

  it('skips an OCA proposal without registryAddress, naming why', async () => {
    // Node 0 only, with a bidder job without a registry (removed again afterwards).
    const n = nodes[0]!
    const cr = await n.api('POST', '/v2/jobs', world.requestSpec(world.aggregators[0]!, n.index))
    assert.equal(cr.status, 201, JSON.stringify(cr.json))
    const bj = await n.api('POST', '/v2/jobs', bidderSpec(market, undefined, 0, 9))
    assert.equal(bj.status, 201, JSON.stringify(bj.json))
    const slaId = await propose()
    const skipped = await waitFor('node 0 to skip the OCA proposal', () =>
      n.bidder.find((e) => e.kind === 'skipped' && e.slaId === slaId),
    )
    assert.match((skipped as { reason: string }).reason, /needs registryAddress/)
    const id = (bj.json as { job: { id: string } }).job.id
    assert.equal((await n.api('DELETE', `/v2/jobs/${id}`)).status, 200)
    // Nobody bid: the purchaser takes the escrow back.
    const receipt = await purchaser.send(
      market,
      encodeFunctionData({ abi: OrderMatchingAbi, functionName: 'cancel', args: [slaId] }),
      300_000n,
    )
    assert.equal(receipt.status, 'success')
  })

  it('bids, is selected, makes and confirms the key, answers, settles; deposits come back paid', async () => {
    for (const n of nodes) {
      if (n.index !== 0) {
        const cr = await n.api(
          'POST',
          '/v2/jobs',
          world.requestSpec(world.aggregators[0]!, n.index),
        )
        assert.equal(cr.status, 201, JSON.stringify(cr.json))
      }
      const bj = await n.api('POST', '/v2/jobs', bidderSpec(market, registry, n.index))
      assert.equal(bj.status, 201, JSON.stringify(bj.json))
    }
    const before = await Promise.all(nodes.map((n) => linkBalance(n.address)))
    const t0 = Date.now()
    const slaId = await propose()

    await waitFor('five bids on chain', () =>
      nodes.every((n) => n.bidder.some((e) => e.kind === 'bid-placed' && e.slaId === slaId))
        ? true
        : undefined,
    ).catch((err) => {
      for (const n of nodes) console.log(`# node ${n.index}`, n.bidder)
      throw err
    })

    // The window closes: a bidder finalizes; the four cheapest are selected.
    await increaseTime(chain, 31)
    const serving = await waitFor(
      'the SLA to be served',
      async () => {
        const v = await sla(slaId)
        return v.status === 2 ? v : undefined
      },
      30_000,
    )
    assert.equal(serving.clearingPrice, (60n * LINK) / 100n)
    const factory = (await chain.owner.readContract({
      address: market,
      abi: OrderMatchingAbi,
      functionName: 'aggregatorFactory',
    })) as Address
    const predicted = (await chain.owner.readContract({
      address: factory,
      abi: SlaAggregatorFactoryAbi,
      functionName: 'predict',
      args: [slaId],
    })) as Address
    assert.equal(getAddress(serving.aggregator), getAddress(predicted))
    for (const i of SELECTED) {
      const sel = await waitFor(`node ${i} selected`, () =>
        nodes[i]!.bidder.find((e) => e.kind === 'selected' && e.slaId === slaId),
      )
      assert.equal((sel as { serving: boolean }).serving, true)
    }
    await waitFor('node 3 not selected', () =>
      nodes[3]!.bidder.find((e) => e.kind === 'not-selected' && e.slaId === slaId),
    )
    // Node 3's deposit came back at finalize.
    assert.equal(await linkBalance(nodes[3]!.address), before[3])

    // The committee's DKG, its confirmations, and the aggregator at the predicted address.
    await waitFor(
      'the aggregator deployed',
      async () => {
        const code = await chain.owner.getCode({ address: predicted })
        return code && code !== '0x' ? true : undefined
      },
      60_000,
    )
    const factoryLogs = parseEventLogs({
      abi: SlaAggregatorFactoryAbi,
      logs: await chain.owner.getLogs({ address: factory, fromBlock: 0n }),
    })
    const deployed = factoryLogs.filter((l) => l.eventName === 'AggregatorDeployed')
    assert.equal(deployed.length, 1)
    assert.equal(getAddress((deployed[0]!.args as { aggregator: Address }).aggregator), predicted)

    // One signed round, then a member settles.
    const settled = await waitFor(
      'the SLA to be settled',
      async () => ((await sla(slaId)).status === 3 ? true : undefined),
      60_000,
    )
    assert.ok(settled)
    const answers = parseEventLogs({
      abi: ThresholdAggregatorAbi,
      logs: await chain.owner.getLogs({ address: predicted, fromBlock: 0n }),
      eventName: 'AnswerUpdated',
    })
    assert.equal(answers.length, 1, 'one round transmitted')
    const answer = answers[0]!.args.current!
    assert.ok(answer >= 300010n && answer <= 300050n, `answer ${answer}`)

    const confirmedBy = parseEventLogs({
      abi: SlaAggregatorFactoryAbi,
      logs: await chain.owner.getLogs({ address: factory, fromBlock: 0n }),
      eventName: 'GroupKeyConfirmed',
    }).map((l) => getAddress(l.args.oracle))
    assert.equal(new Set(confirmedBy).size, 4, `${confirmedBy.length} confirmations`)
    for (const i of SELECTED) {
      const n = nodes[i]!
      assert.ok(
        n.bidder.some((e) => e.kind === 'member-started' && e.slaId === slaId),
        `node ${i} ran a member`,
      )
      assert.ok(
        n.oca.some((e) => e.kind === 'group-key'),
        `node ${i} made the group key`,
      )
      await waitFor(`node ${i} to see the settlement`, () =>
        n.bidder.find((e) => e.kind === 'settled' && e.slaId === slaId),
      )
    }
    // A member that saw the answer stopped at once (the others at the settlement).
    assert.ok(
      nodes.some((n) => n.bidder.some((e) => e.kind === 'answered' && e.answer === answer)),
      'a node saw the answer',
    )
    assert.ok(
      nodes.some((n) => n.bidder.some((e) => e.kind === 'settle-sent' && e.slaId === slaId)),
      'a node settled',
    )
    assert.ok(!nodes[3]!.bidder.some((e) => e.kind === 'member-started'))

    const logs = parseEventLogs({
      abi: OrderMatchingAbi,
      logs: await chain.owner.getLogs({ address: market, fromBlock: 0n }),
    })
    const returned = logs
      .filter((l) => l.eventName === 'DepositReturned' && l.args.slaId === slaId)
      .map((l) => getAddress((l.args as { oracle: Address }).oracle))
    assert.deepEqual(returned.sort(), nodes.map((n) => n.address).sort())
    assert.equal(
      logs.filter((l) => l.eventName === 'DepositForfeited' && l.args.slaId === slaId).length,
      0,
    )
    const settledLog = logs.find((l) => l.eventName === 'SLASettled' && l.args.slaId === slaId)
    const paid = (settledLog!.args as { agreeBitmap: bigint }).agreeBitmap
    const finalized = logs.find((l) => l.eventName === 'SLAFinalized' && l.args.slaId === slaId)
    const committee = (finalized!.args as { oracles: readonly Address[] }).oracles.map((a) =>
      getAddress(a),
    )
    assert.deepEqual([...committee].sort(), SELECTED.map((i) => nodes[i]!.address).sort())
    const afterwards = await Promise.all(nodes.map((n) => linkBalance(n.address)))
    for (const i of SELECTED) {
      const place = committee.indexOf(nodes[i]!.address)
      const expected = ((paid >> BigInt(place)) & 1n) === 1n ? serving.clearingPrice : 0n
      assert.equal(afterwards[i]! - before[i]!, expected, `node ${i} paid`)
    }
    // The settler waited for every member's confirmation (they all came within staggerMs).
    assert.equal(paid, 0b1111n, `paid bitmap ${paid.toString(2)}`)
    console.log(`# OCA SLA proposed → settled in ${Date.now() - t0} ms`)
  })
})
