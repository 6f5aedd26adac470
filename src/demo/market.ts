import { randomUUID } from 'node:crypto'
import { type Address, bytesToHex, formatUnits, getAddress, type Hex, parseEventLogs } from 'viem'
import {
  LinkTokenAbi,
  MedianAggregationAbi,
  MedianAggregationBytecode,
  OrderMatchingAbi,
} from '../../artifacts/abis.ts'
import type { ChainClient } from '../chain/client.ts'
import { deployContract } from '../chain/deploy.ts'
import { AGGREGATION_MODE, deployMarket, proposeData } from '../chain/market.ts'
import { readReputation, reputationRows } from '../chain/reputation.ts'
import { table } from '../cli/api-client.ts'
import type { BidderEvent } from '../node/bidder.ts'
import type { CommitRevealEvent } from '../node/commitreveal.ts'
import { specIdOf } from '../node/directrequest.ts'
import type { LocalNode } from '../node/local.ts'
import { encodeDietCbor } from '../pipeline/cbor-encode.ts'

/**
 * The order-matching part of `npm start` (whitepaper §2.1, §5.2; docs/protocol/market.md): a
 * Reputation contract and an OrderMatching market with two pool aggregators; six nodes, each with
 * a commitreveal job for the SLA's spec and a `bidder` job asking its own price; a purchaser
 * posts an SLA for a committee of 4. Five nodes bid (the sixth asks more than the SLA pays), the
 * market selects the four cheapest (every score is 0 on a new spec), one of them cannot answer
 * (its adapter sees only the exchange that is down), the other three commit and reveal, a member
 * settles: three deposits come back, the silent member's goes to the purchaser, and the
 * reputation table shows it. Each step is printed as it happens on chain or in a node.
 */

const LINK = 10n ** 18n
const N = 4
const PAYMENT = LINK / 2n
const DEPOSIT = 2n * LINK
/** What each node asks per answer, in hundredths of a LINK (node 6 asks more than PAYMENT). */
const ASKS = [20n, 25n, 30n, 45n, 35n, 60n]
const TIMES = 100
const BIDDING_SECONDS = 30
const RESPONSE_SECONDS = 40

const link = (juels: bigint) => `${formatUnits(juels, 18)} LINK`

/** The commitreveal job every node runs for the SLA's spec: the pair and scale from the SLA's CBOR. */
function requestJob(externalJobID: string, aggregator: Address): string {
  return `type = "commitreveal"
schemaVersion = 1
name = "ETH-USD for SLAs (commit-reveal)"
externalJobID = "${externalJobID}"
contractAddress = "${aggregator}"
maxTaskDuration = "10s"
minIncomingConfirmations = 0
observationSource = """${String.raw`
    decode_cbor [type="cborparse" data="$(jobRun.data)"]
    fetch       [type="bridge" name="price" requestData="{\\"data\\": {\\"pair\\": $(decode_cbor.pair)}}"]
    parse       [type="jsonparse" path="data,result" data="$(fetch)"]
    scaled      [type="multiply" input="$(parse)" times="$(decode_cbor.times)"]
    value       [type="divide" input="$(scaled)" divisor="1" precision="0"]
    decode_cbor -> fetch -> parse -> scaled -> value
`}"""
`
}

function bidderJob(market: Address, externalJobID: string, member: number): string {
  return `type = "bidder"
schemaVersion = 1
name = "SLA bids of node ${member + 1}"
externalJobID = "${randomUUID()}"
contractAddress = "${market}"
minIncomingConfirmations = 0
specIds = ["${externalJobID}"]
price = "${(ASKS[member]! * LINK) / 100n}"
maxDeposit = "${5n * LINK}"
maxConcurrent = 2
`
}

export type MarketDemoResult = {
  market: Address
  reputation: Address
  slaId: bigint
  specId: Hex
  committee: Address[]
  clearingPrice: bigint
  answer: bigint
  returned: Address[]
  forfeited: Address[]
}

export type MarketDemoParameters = {
  owner: ChainClient
  /** The purchaser's account (funded with ether; it gets LINK from the owner here). */
  purchaser: ChainClient
  link: Address
  /** Six nodes, each with a bridge named "price" to its own adapter. */
  nodes: LocalNode[]
  line(label: string, text: string): void
  onCommitRevealEvents(listener: (member: number, event: CommitRevealEvent) => void): void
  onBidderEvents(listener: (member: number, event: BidderEvent) => void): void
  timeoutMs?: number
}

export async function runMarketDemo(p: MarketDemoParameters): Promise<MarketDemoResult> {
  const { owner, purchaser, nodes, line } = p
  const addresses = nodes.map((n) => getAddress(n.node.keys[0] as Address))
  const nameOf = (oracle: Address) => {
    const i = addresses.indexOf(getAddress(oracle))
    return i < 0 ? oracle : `node ${i + 1}`
  }
  const write = async (client: ChainClient, params: Record<string, unknown>) => {
    const receipt = await client.waitForTransactionReceipt({
      hash: await client.writeContract(params as never),
    })
    if (receipt.status !== 'success') throw new Error(`${params.functionName} reverted`)
    return receipt
  }

  const { reputation, market, aggregators } = await deployMarket(owner, {
    link: p.link,
    aggregators: 2,
  })
  const median = await deployContract(owner, {
    name: 'MedianAggregation',
    abi: MedianAggregationAbi,
    bytecode: MedianAggregationBytecode,
    args: [3n],
  })
  line(
    'market',
    `OrderMatching ${market} with 2 pool CommitRevealAggregators, Reputation ${reputation} (the market writes it), owned by ${owner.account.address}`,
  )
  for (const who of [...addresses, purchaser.account.address]) {
    await write(owner, {
      address: p.link,
      abi: LinkTokenAbi,
      functionName: 'transfer',
      args: [who, 5n * LINK],
    })
  }

  // Each node: the commitreveal job for the SLA's spec (on pool aggregator 0; the bidder adds
  // the aggregator it is selected on) and a bidder job with its own price.
  const externalJobID = randomUUID()
  const specId = specIdOf(externalJobID)
  const roundJobs = new Map<number, string>()
  for (const [member, n] of nodes.entries()) {
    const created = (await n.post(
      '/v2/jobs',
      'application/toml',
      requestJob(externalJobID, aggregators[0]!),
    )) as { job: { id: string | number } }
    roundJobs.set(member, String(created.job.id))
    await n.post('/v2/jobs', 'application/toml', bidderJob(market, externalJobID, member))
  }
  line(
    'jobs',
    `each of the ${nodes.length} nodes: a commitreveal job ${externalJobID} (the SLA's spec) and a bidder job asking ${ASKS.map((a, i) => `node ${i + 1} ${link((a * LINK) / 100n)}`).join(', ')}; 5 LINK each for deposits`,
  )

  // The nodes' own account of what they do: policy refusals, finalize and settle sent.
  const events: { member: number; e: BidderEvent }[] = []
  p.onBidderEvents((member, e) => {
    events.push({ member, e })
    const who = `node ${member + 1}`
    if (e.kind === 'skipped') line(who, `does not bid on SLA ${e.slaId}: ${e.reason}`)
    if (e.kind === 'bid-failed') line(who, `bid on SLA ${e.slaId} failed: ${e.reason}`)
    if (e.kind === 'finalize-sent') line(who, `sends finalize(${e.slaId}): the window is closed`)
    if (e.kind === 'settle-sent') line(who, `sends settle(${e.slaId}): the round is over`)
    if (e.kind === 'cancelled') line(who, `SLA ${e.slaId} cancelled (reason ${e.reason})`)
  })
  // The served round, as the members commit and reveal.
  let served: { roundId: bigint } | undefined
  const said = new Set<string>()
  const once = (key: string, label: string, text: string) => {
    if (said.has(key)) return
    said.add(key)
    line(label, text)
  }
  p.onCommitRevealEvents((member, e) => {
    if (roundJobs.get(member) !== String(e.jobId) || !('roundId' in e)) return
    const label = `SLA round ${e.roundId}`
    const who = `node ${member + 1}`
    if (e.kind === 'round-started')
      once(
        `start ${e.roundId}`,
        label,
        `started on the pool aggregator; commits until ${new Date(Number(e.commitDeadline) * 1000).toISOString().slice(11, 19)}`,
      )
    if (e.kind === 'committed') line(label, `${who} committed (its value stays hidden)`)
    if (e.kind === 'revealed') line(label, `${who} revealed ${e.value}`)
    if (e.kind === 'skipped' || e.kind === 'failed')
      line(label, `${who} cannot answer: ${e.reason}`)
    if (e.kind === 'finalized')
      once(`final ${e.roundId}`, label, `finalised on chain: answer ${e.answer} (median)`)
    if (e.kind === 'round-failed') once(`final ${e.roundId}`, label, 'failed: too few reveals')
  })

  // The purchaser posts the SLA with its escrow in one transferAndCall.
  const now = Number((await owner.getBlock()).timestamp)
  const biddingEnd = now + BIDDING_SECONDS
  const proposal = {
    specId,
    data: bytesToHex(encodeDietCbor({ pair: 'ETH-USD', times: TIMES })),
    n: N,
    mode: AGGREGATION_MODE.CommitReveal,
    aggregation: median,
    minReputation: 0,
    agreementBps: 100,
    paymentPerOracle: PAYMENT,
    minDeposit: DEPOSIT,
    biddingEnd,
    responseDeadline: biddingEnd + RESPONSE_SECONDS,
  }
  const escrow = BigInt(N) * PAYMENT
  const proposed = await write(purchaser, {
    address: p.link,
    abi: LinkTokenAbi,
    functionName: 'transferAndCall',
    args: [market, escrow, proposeData(proposal)],
  })
  const [posted] = parseEventLogs({
    abi: OrderMatchingAbi,
    logs: proposed.logs,
    eventName: 'SLAProposed',
  })
  if (!posted) throw new Error('the proposal emitted no SLAProposed')
  const slaId = posted.args.slaId
  const clock = (t: number) => new Date(t * 1000).toISOString().slice(11, 19)
  line(
    `SLA ${slaId}`,
    `purchaser ${purchaser.account.address} posts: ETH-USD x ${TIMES}, ${N} oracles, median of 3 reveals, up to ${link(PAYMENT)} each, deposit ${link(DEPOSIT)}, bids until ${clock(biddingEnd)}, answer by ${clock(proposal.responseDeadline)}; ${link(escrow)} in escrow`,
  )

  // Follow the market's log: bids, the selection, the answer, the deposits.
  const deadline = Date.now() + (p.timeoutMs ?? 90_000)
  let fromBlock = proposed.blockNumber + 1n
  const state = {
    bids: 0,
    committee: [] as Address[],
    clearingPrice: 0n,
    answer: undefined as bigint | undefined,
    settled: false,
    returned: [] as Address[],
    forfeited: [] as Address[],
  }
  const follow = async () => {
    const head = await owner.getBlockNumber()
    if (head < fromBlock) return
    const logs = parseEventLogs({
      abi: OrderMatchingAbi,
      logs: await owner.getLogs({ address: market, fromBlock, toBlock: head }),
    })
    fromBlock = head + 1n
    for (const l of logs) {
      if ('slaId' in l.args && l.args.slaId !== slaId) continue
      if (l.eventName === 'BidPlaced') {
        state.bids++
        line(
          `SLA ${slaId}`,
          `bid ${state.bids}: ${nameOf(l.args.oracle)} asks ${link(l.args.price)}, ${link(DEPOSIT)} deposit locked`,
        )
      } else if (l.eventName === 'SLAFinalized') {
        state.committee = l.args.oracles.map((o) => getAddress(o))
        state.clearingPrice = l.args.clearingPrice
        served = { roundId: l.args.roundId }
        const views = await readReputation(owner, reputation, state.committee, specId)
        line(
          `SLA ${slaId}`,
          `finalized: committee ${state.committee.map((o, i) => `${nameOf(o)} (score ${views[i]!.score})`).join(', ')}, by reputation then price; clearing price ${link(state.clearingPrice)} each; round ${l.args.roundId} opened on ${l.args.aggregator}`,
        )
      } else if (l.eventName === 'SLAAnswered') {
        state.answer = l.args.answer
        line(`SLA ${slaId}`, `answered: ${l.args.answer} (ETH-USD x ${TIMES}, answerOf(${slaId}))`)
      } else if (l.eventName === 'DepositReturned') {
        const settling = state.answer !== undefined
        if (settling) state.returned.push(getAddress(l.args.oracle))
        line(
          `SLA ${slaId}`,
          `${link(l.args.amount)} deposit returned to ${nameOf(l.args.oracle)} (${settling ? 'it answered' : 'not selected'})`,
        )
      } else if (l.eventName === 'DepositForfeited') {
        state.forfeited.push(getAddress(l.args.oracle))
        line(
          `SLA ${slaId}`,
          `${link(l.args.amount)} deposit of ${nameOf(l.args.oracle)} forfeited to the purchaser (it never answered)`,
        )
      } else if (l.eventName === 'SLASettled') {
        state.settled = true
        line(
          `SLA ${slaId}`,
          `settled: ${link(l.args.forfeited)} of deposits and ${link(l.args.refunded)} of unspent escrow to the purchaser; members paid ${link(state.clearingPrice)} per reveal by the aggregator`,
        )
      } else if (l.eventName === 'SLACancelled') {
        throw new Error(`SLA ${slaId} was cancelled (reason ${l.args.reason})`)
      }
    }
  }
  const waitUntil = async (what: string, done: () => boolean) => {
    for (;;) {
      await follow()
      if (done()) return
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 150))
    }
  }
  const decided = (member: number) =>
    events.some(
      (x) =>
        x.member === member &&
        x.e.slaId === slaId &&
        (x.e.kind === 'bid-placed' || x.e.kind === 'skipped' || x.e.kind === 'bid-failed'),
    )
  await waitUntil('every node to bid or decline', () => nodes.every((_, i) => decided(i)))

  // Every node has decided: rather than wait out the window, move anvil's clock to its end.
  const latest = Number((await owner.getBlock()).timestamp)
  if (latest < biddingEnd) {
    await owner.request({ method: 'evm_increaseTime', params: [biddingEnd - latest] } as never)
    await owner.request({ method: 'evm_mine', params: [] } as never)
  }
  line(
    `SLA ${slaId}`,
    `${state.bids} bids; bidding closed (anvil's clock moved ${Math.max(biddingEnd - latest, 0)} s to the window's end)`,
  )
  await waitUntil('the committee to be selected', () => served !== undefined)
  await waitUntil('the answer', () => state.answer !== undefined)
  await waitUntil('the settlement', () => state.settled)

  const views = await readReputation(owner, reputation, addresses, specId)
  // The CLI's table, each row named after its node and the penalties in LINK.
  const rows = reputationRows(views)
  const penalties = rows[0]!.indexOf('penalties')
  const named = rows.map((r, j) => {
    const cells = [...r]
    cells[penalties] = j === 0 ? 'penalties LINK' : formatUnits(views[j - 1]!.penaltiesPaid, 18)
    return [j === 0 ? '' : `node ${j}`, ...cells]
  })
  line('reputation', `Reputation.getRecords(6 nodes, spec ${externalJobID}) after SLA ${slaId}:`)
  for (const [i, row] of table(named).split('\n').entries()) {
    line(i === 0 ? 'reputation' : '', row)
  }
  return {
    market,
    reputation,
    slaId,
    specId,
    committee: state.committee,
    clearingPrice: state.clearingPrice,
    answer: state.answer!,
    returned: state.returned,
    forfeited: state.forfeited,
  }
}
