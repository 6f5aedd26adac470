import { randomUUID } from 'node:crypto'
import { type Address, formatUnits, parseEventLogs } from 'viem'
import {
  CommitRevealAggregatorAbi,
  LinkTokenAbi,
  PriceConsumerAbi,
  PriceConsumerBytecode,
} from '../../artifacts/abis.ts'
import type { ChainClient } from '../chain/client.ts'
import { deployCommitRevealAggregator, deployContract } from '../chain/deploy.ts'
import type { CommitRevealEvent } from '../node/commitreveal.ts'
import { specIdOf } from '../node/directrequest.ts'
import type { LocalNode } from '../node/local.ts'

/**
 * The commit–reveal part of `npm start`: a CommitRevealAggregator whose committee is four
 * nodes (f = 1, median of 3 reveals), one request answered through commit–reveal, and the
 * ETH / USD feed updating twice. Every round is printed as the nodes commit, reveal and the
 * contract finalises it.
 */

const PAY = 10n ** 16n
const REQUEST_TIMES = 100n
const FEED_DECIMALS = 8

/** The pipeline both jobs run: the node's own price adapter (bridge "price"), scaled, rounded. */
function observation(times: bigint): string {
  return String.raw`
    fetch  [type="bridge" name="price" requestData="{\\"data\\": {\\"pair\\": \\"ETH-USD\\"}}"]
    parse  [type="jsonparse" path="data,result" data="$(fetch)"]
    scaled [type="multiply" input="$(parse)" times="${times}"]
    value  [type="divide" input="$(scaled)" divisor="1" precision="0"]
    fetch -> parse -> scaled -> value
`
}

function requestJob(externalJobID: string, aggregator: Address): string {
  return `type = "commitreveal"
schemaVersion = 1
name = "ETH-USD on request (commit-reveal)"
externalJobID = "${externalJobID}"
contractAddress = "${aggregator}"
maxTaskDuration = "10s"
observationSource = """${observation(REQUEST_TIMES)}"""
`
}

function feedJob(aggregator: Address): string {
  return `type = "commitreveal"
schemaVersion = 1
name = "ETH / USD feed (commit-reveal)"
externalJobID = "${randomUUID()}"
contractAddress = "${aggregator}"
maxTaskDuration = "10s"
feed = true
deviationThreshold = 0.05
heartbeat = "5s"
pollPeriod = "500ms"
observationSource = """${observation(10n ** BigInt(FEED_DECIMALS))}"""
`
}

export type CommitteeDemoResult = {
  aggregator: Address
  requestAnswer: bigint
  feedAnswers: { roundId: bigint; answer: bigint }[]
}

export type CommitteeDemoParameters = {
  owner: ChainClient
  link: Address
  /** The four members, each with a bridge named "price" to its own adapter. */
  nodes: LocalNode[]
  line(label: string, text: string): void
  /** Subscribes to the members' commit–reveal events (member index, event). */
  onEvents(listener: (member: number, event: CommitRevealEvent) => void): void
  timeoutMs?: number
}

export async function runCommitteeDemo(p: CommitteeDemoParameters): Promise<CommitteeDemoResult> {
  const { owner, link, nodes, line } = p
  const members = nodes.map((n) => n.node.keys[0] as Address)
  const { aggregator } = await deployCommitRevealAggregator(owner, {
    link,
    decimals: FEED_DECIMALS,
    description: 'ETH / USD',
    config: {
      oracles: members,
      f: 1,
      minReveals: 3,
      commitWindow: 30,
      revealWindow: 30,
      paymentPerAnswer: PAY,
      minAnswer: 1n,
      maxAnswer: 10n ** 30n,
      callbackGasLimit: 200_000,
      agreementBps: 100,
    },
    feedFunds: 10n ** 18n,
  })
  const write = async (params: Parameters<ChainClient['writeContract']>[0]) => {
    const receipt = await owner.waitForTransactionReceipt({
      hash: await owner.writeContract(params),
    })
    if (receipt.status !== 'success') throw new Error(`${params.functionName} reverted`)
    return receipt
  }
  line(
    'committee',
    `CommitRevealAggregator ${aggregator}: 4 nodes, f = 1, median of 3 reveals, ${formatUnits(PAY, 18)} LINK per answer, feed funded with 1 LINK`,
  )

  // Print each round once per step: members' commits and reveals as they happen, then the
  // contract's verdict.
  const finalized = new Set<bigint>()
  const seen = new Set<bigint>()
  p.onEvents((member, e) => {
    const who = `node ${member + 1}`
    if (e.kind === 'round-started' && !seen.has(e.roundId)) {
      seen.add(e.roundId)
      line(
        `round ${e.roundId}`,
        `${e.isFeed ? 'feed round' : `request ${e.requestId}`} started; commits until ${new Date(Number(e.commitDeadline) * 1000).toISOString().slice(11, 19)}`,
      )
    }
    if (e.kind === 'committed')
      line(`round ${e.roundId}`, `${who} committed (its value stays hidden)`)
    if (e.kind === 'revealed') line(`round ${e.roundId}`, `${who} revealed ${e.value}`)
    if (e.kind === 'skipped' || e.kind === 'failed')
      line(`round ${e.roundId}`, `${who}: ${e.reason}`)
    if (e.kind === 'finalized' && !finalized.has(e.roundId)) {
      finalized.add(e.roundId)
      line(`round ${e.roundId}`, `finalised on chain: answer ${e.answer}`)
    }
    if (e.kind === 'round-failed' && !finalized.has(e.roundId)) {
      finalized.add(e.roundId)
      line(`round ${e.roundId}`, 'failed: deadline passed without enough reveals')
    }
  })

  const externalJobID = randomUUID()
  const feedJobs: { node: LocalNode; id: string }[] = []
  for (const n of nodes) {
    await n.post('/v2/jobs', 'application/toml', requestJob(externalJobID, aggregator))
    const created = (await n.post('/v2/jobs', 'application/toml', feedJob(aggregator))) as {
      job: { id: string | number }
    }
    feedJobs.push({ node: n, id: String(created.job.id) })
  }
  line('jobs', 'each node: a commitreveal request job and a feed job, created through its API')

  const consumer = await deployContract(owner, {
    name: 'PriceConsumer',
    abi: PriceConsumerAbi,
    bytecode: PriceConsumerBytecode,
    args: [link, aggregator],
  })
  await write({
    address: link,
    abi: LinkTokenAbi,
    functionName: 'transfer',
    args: [consumer, 10n ** 18n],
  } as never)
  const request = await write({
    address: consumer,
    abi: PriceConsumerAbi,
    functionName: 'requestValue',
    args: [specIdOf(externalJobID), 4n * PAY, 'bridge:price', 'price', REQUEST_TIMES, false],
  } as never)
  const [started] = parseEventLogs({
    abi: CommitRevealAggregatorAbi,
    logs: request.logs,
    eventName: 'RoundStarted',
  })
  if (!started) throw new Error('the request opened no round')
  line(
    'request',
    `PriceConsumer ${consumer} asks the committee (round ${started.args.roundId}, ${formatUnits(4n * PAY, 18)} LINK)`,
  )

  const deadline = Date.now() + (p.timeoutMs ?? 90_000)
  const waitUntil = async <T>(what: string, check: () => Promise<T | undefined>): Promise<T> => {
    for (;;) {
      const value = await check()
      if (value !== undefined) return value
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  const requestAnswer = await waitUntil('the committee to answer the request', async () => {
    const logs = await owner.getLogs({ address: consumer, fromBlock: request.blockNumber })
    const [answered] = parseEventLogs({ abi: PriceConsumerAbi, logs, eventName: 'AnswerReceived' })
    return answered?.args.value
  })
  line(
    'answered',
    `PriceConsumer.answers(${started.args.requestId}) = ${requestAnswer} (ETH-USD x ${REQUEST_TIMES})`,
  )

  const feedAnswers: { roundId: bigint; answer: bigint }[] = []
  while (feedAnswers.length < 2) {
    const next = await waitUntil('the feed to update', async () => {
      try {
        const [roundId, answer, , updatedAt] = await owner.readContract({
          address: aggregator,
          abi: CommitRevealAggregatorAbi,
          functionName: 'latestRoundData',
        })
        if (feedAnswers.some((a) => a.roundId === roundId)) return undefined
        return { roundId, answer, updatedAt }
      } catch {
        return undefined // NoDataPresent before the first feed answer
      }
    })
    feedAnswers.push({ roundId: next.roundId, answer: next.answer })
    line(
      'feed',
      `latestRoundData: round ${next.roundId}, answer ${formatUnits(next.answer, FEED_DECIMALS)} USD, updated ${new Date(Number(next.updatedAt) * 1000).toISOString().slice(11, 19)}`,
    )
  }
  // The feed has shown it moves; stop its jobs so the rest of the demo runs alone.
  for (const { node, id } of feedJobs) {
    await fetch(`${node.node.apiUrl}/v2/jobs/${id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${node.node.apiToken}` },
    })
  }
  line('jobs', 'feed jobs deleted through the API')
  return { aggregator, requestAnswer, feedAnswers }
}
