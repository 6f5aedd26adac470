import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Address, bytesToHex, getAddress, parseEventLogs } from 'viem'
import {
  MedianAggregationAbi,
  MedianAggregationBytecode,
  OrderMatchingAbi,
} from '../../artifacts/abis.ts'
import { ANVIL_PRIVATE_KEYS } from '../../src/chain/anvil.ts'
import { AGGREGATION_MODE } from '../../src/chain/market.ts'
import { deployContract, increaseTime, LINK } from '../../src/chain/testing.ts'
import { encodeDietCbor } from '../../src/pipeline/cbor-encode.ts'
import { parseJobSpec } from '../../src/pipeline/job-spec.ts'
import { TASKS } from '../../src/pipeline/tasks/index.ts'
import { type MarketWorld, REQUEST_JOB_ID, SPEC_ID, startMarketWorld } from './bidder-setup.ts'
import { waitFor } from './node-setup.ts'

/**
 * The bidder job end to end on anvil: an OrderMatching market with two pool aggregators, six
 * in-process oracle nodes, each with a commitreveal job for the spec (on pool aggregator 0, so
 * serving the SLA on aggregator 1 goes through `serveAggregator`) and a bidder job. A purchaser
 * posts an SLA for n = 4. Nodes 0–4 bid at different prices; node 5's policy refuses the
 * deposit and records why. The contract selects the four cheapest; the nodes finalize when the
 * window closes, the committee commits and reveals, a member settles, and every deposit returns.
 */

const PRICES = ['3000.10', '3000.20', '3000.30', '3000.40', '3000.50', '3000.60']
/** Asked per answer, in hundredths of a LINK; node 3 is the dearest and is left out. */
const ASKS = [50n, 60n, 40n, 70n, 30n, 20n]
const MIN_DEPOSIT = 5n * LINK

function bidderSpec(market: Address, i: number): string {
  return `type = "bidder"
schemaVersion = 1
name = "SLA bids of node ${i}"
externalJobID = "0b1d2e3f-4a5b-4c6d-8e7f-00000000000${i}"
contractAddress = "${market}"
minIncomingConfirmations = 0
specIds = ["${REQUEST_JOB_ID}"]
price = "${(ASKS[i]! * LINK) / 100n}"
maxDeposit = "${i === 5 ? LINK : 10n * LINK}"
maxConcurrent = 2
`
}

describe(`bidder job: 6 nodes bid on an SLA for 4 (${process.env.DATABASE_URL ? 'Postgres' : 'PGlite'})`, () => {
  let world: MarketWorld
  let median: Address

  before(async () => {
    world = await startMarketWorld({
      prefix: 'orakel-bidder-',
      keys: ANVIL_PRIVATE_KEYS.slice(1, 1 + PRICES.length),
      prices: PRICES,
      aggregators: 2,
    })
    median = await deployContract(world.chain.owner, {
      name: 'MedianAggregation',
      abi: MedianAggregationAbi,
      bytecode: MedianAggregationBytecode,
      args: [3n],
    })
  })

  after(async () => {
    await world?.close()
  })

  it('rejects a bidder spec with a pipeline or bad spec ids, naming the keys', () => {
    const base = bidderSpec('0x0000000000000000000000000000000000000001', 0)
    assert.throws(
      () => parseJobSpec(`${base}observationSource = "a [type=memo value=1]"\n`, TASKS),
      /unknown key\(s\) "observationSource" for a bidder job/,
    )
    assert.throws(
      () => parseJobSpec(base.replace(/specIds = .*/, 'specIds = ["nope"]'), TASKS),
      /"specIds.0": must be a bytes32 spec id/,
    )
    const parsed = parseJobSpec(base, TASKS)
    assert.equal(parsed.spec.type, 'bidder')
    assert.deepEqual((parsed.spec as { specIds: string[] }).specIds, [SPEC_ID])
  })

  it('bids, is selected, serves the round and settles; deposits come back', async () => {
    // Every node: a commitreveal job for the spec on pool aggregator 0, and a bidder job.
    const { nodes, chain, market, aggregators, linkBalance, sla } = world
    for (const n of nodes) {
      const cr = await n.api('POST', '/v2/jobs', world.requestSpec(aggregators[0]!, n.index))
      assert.equal(cr.status, 201, JSON.stringify(cr.json))
      const bj = await n.api('POST', '/v2/jobs', bidderSpec(market, n.index))
      assert.equal(bj.status, 201, JSON.stringify(bj.json))
    }
    const before = await Promise.all(nodes.map((n) => linkBalance(n.address)))

    const now = Number((await chain.owner.getBlock()).timestamp)
    const biddingEnd = now + 30
    const proposal = {
      specId: SPEC_ID,
      data: bytesToHex(encodeDietCbor({ get: world.source.url, path: 'price', times: 100 })),
      n: 4,
      mode: AGGREGATION_MODE.CommitReveal,
      aggregation: median,
      minReputation: 0,
      agreementBps: 100,
      paymentPerOracle: LINK,
      minDeposit: MIN_DEPOSIT,
      biddingEnd,
      responseDeadline: biddingEnd + 120,
    }
    const slaId = await world.propose(proposal, 4n * LINK)

    // Nodes 0–4 bid; node 5 refuses the deposit and says why.
    await waitFor('five bids on chain', () =>
      nodes
        .slice(0, 5)
        .every((n) => n.bidder.some((e) => e.kind === 'bid-placed' && e.slaId === slaId))
        ? true
        : undefined,
    )
    const skipped = await waitFor('node 5 to skip the proposal', () =>
      nodes[5]!.bidder.find((e) => e.kind === 'skipped' && e.slaId === slaId),
    )
    assert.match(
      (skipped as { reason: string }).reason,
      new RegExp(`deposit ${MIN_DEPOSIT} is above maxDeposit ${LINK}`),
    )
    assert.ok(!nodes[5]!.bidder.some((e) => e.kind === 'bid-sent'))

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
    assert.equal(getAddress(serving.aggregator), getAddress(aggregators[1]!))
    assert.equal(serving.clearingPrice, (60n * LINK) / 100n)
    const selected = [0, 1, 2, 4]
    for (const i of selected) {
      const sel = await waitFor(`node ${i} selected`, () =>
        nodes[i]!.bidder.find((e) => e.kind === 'selected' && e.slaId === slaId),
      )
      assert.equal((sel as { serving: boolean }).serving, true)
    }
    await waitFor('node 3 not selected', () =>
      nodes[3]!.bidder.find((e) => e.kind === 'not-selected' && e.slaId === slaId),
    )

    // The committee serves the round on aggregator 1 and a member settles.
    await waitFor(
      'the SLA to be settled',
      async () => ((await sla(slaId)).status === 3 ? true : undefined),
      40_000,
    )
    for (const i of selected) {
      const n = nodes[i]!
      assert.ok(
        n.rounds.some((e) => e.kind === 'revealed' && e.roundId === serving.roundId),
        `node ${i} revealed`,
      )
      await waitFor(`node ${i} to see the settlement`, () =>
        n.bidder.find((e) => e.kind === 'settled' && e.slaId === slaId),
      )
    }
    assert.ok(!nodes[3]!.rounds.some((e) => e.kind === 'committed'))
    assert.ok(
      nodes.some((n) => n.bidder.some((e) => e.kind === 'finalize-sent')),
      'a node finalized',
    )
    assert.ok(
      nodes.some((n) => n.bidder.some((e) => e.kind === 'settle-sent')),
      'a node settled',
    )

    const logs = parseEventLogs({
      abi: OrderMatchingAbi,
      logs: await chain.owner.getLogs({ address: market, fromBlock: 0n }),
    })
    const returned = logs
      .filter((l) => l.eventName === 'DepositReturned' && l.args.slaId === slaId)
      .map((l) => getAddress((l.args as { oracle: Address }).oracle))
    assert.deepEqual(
      returned.sort(),
      nodes
        .slice(0, 5)
        .map((n) => n.address)
        .sort(),
    )
    assert.equal(logs.filter((l) => l.eventName === 'DepositForfeited').length, 0)
    // No deposit is kept (payments for the answers come from the aggregator on top).
    const afterwards = await Promise.all(nodes.map((n) => linkBalance(n.address)))
    for (const [i, b] of afterwards.entries()) assert.ok(b >= before[i]!, `node ${i} LINK`)
  })
})
