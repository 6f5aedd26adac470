import { randomUUID } from 'node:crypto'
import { type Address, formatUnits, parseEventLogs } from 'viem'
import {
  OracleRegistryAbi,
  OracleRegistryBytecode,
  ThresholdAggregatorAbi,
} from '../../artifacts/abis.ts'
import type { ChainClient } from '../chain/client.ts'
import { deployContract } from '../chain/deploy.ts'
import {
  agreedGroupKey,
  deployThresholdAggregator,
  nextContractAddress,
} from '../chain/oca-deploy.ts'
import type { LocalNode } from '../node/local.ts'
import type { OcaJobEvent, OcaJobStatus } from '../node/offchainaggregation.ts'

const DECIMALS = 8
const ROUNDS = 3
const F = 1

/** The observation: the node's own price adapter (bridge "price"), scaled to 8 decimals. */
const OBSERVATION = String.raw`
    fetch  [type="bridge" name="price" requestData="{\\"data\\": {\\"pair\\": \\"ETH-USD\\"}}"]
    parse  [type="jsonparse" path="data,result" data="$(fetch)"]
    scaled [type="multiply" input="$(parse)" times="100000000"]
    value  [type="divide" input="$(scaled)" divisor="1" precision="0"]
    fetch -> parse -> scaled -> value
`

function ocaJob(p: { aggregator: Address; registry: Address; oracles: Address[] }): string {
  return `type = "offchainaggregation"
schemaVersion = 1
name = "ETH / USD feed (off-chain aggregation)"
externalJobID = "${randomUUID()}"
contractAddress = "${p.aggregator}"
registryAddress = "${p.registry}"
oracles = [${p.oracles.map((o) => `"${o}"`).join(', ')}]
f = ${F}
configVersion = 1
maxTaskDuration = "10s"
deviationThreshold = 0.5
heartbeat = "4s"
pollPeriod = "500ms"
viewTimeout = "5s"
transmitStep = "2s"
dkgPhaseTimeout = "8s"
roundsPerBatch = 4
observationSource = """${OBSERVATION}"""
`
}

/**
 * The off-chain aggregation part of `npm start`, through the node's `offchainaggregation` job:
 * the four demo nodes each get the job (their own keys as the committee, f = 1); each registers
 * its libp2p identity in an OracleRegistry through its transaction manager, the committee makes
 * the group key by DKG over libp2p bound to the aggregator's address before it exists, the
 * deployer reads the key from the nodes' API (n − f must agree) and deploys the
 * ThresholdAggregator with it, and the feed then updates by itself (no answer yet, then the
 * heartbeat): one `transmit` with one threshold Schnorr signature per round, printed as it lands.
 */
export async function runOcaDemo(p: {
  owner: ChainClient
  nodes: LocalNode[]
  line(label: string, text: string): void
  /** Subscribes to the nodes' offchainaggregation events (member index, event). */
  onEvents(listener: (member: number, e: OcaJobEvent) => void): void
}) {
  const { owner, nodes, line } = p
  const oracles = nodes.map((n) => n.node.keys[0] as Address)
  const registry = await deployContract(owner, {
    name: 'OracleRegistry',
    abi: OracleRegistryAbi,
    bytecode: OracleRegistryBytecode,
    args: [],
  })
  line('OracleRegistry', `${registry} (the committee's libp2p identities)`)
  const aggregator = await nextContractAddress(owner)
  p.onEvents((member, e) => {
    if (e.kind === 'registered')
      line(`node ${member + 1}`, `registered libp2p peer ${e.peerId} at ${e.addrs.join(', ')}`)
    if (e.kind === 'failed')
      line(`node ${member + 1}`, `offchainaggregation job failed: ${e.reason}`)
  })

  const started = Date.now()
  const jobIds: string[] = []
  for (const n of nodes) {
    const created = (await n.post(
      '/v2/jobs',
      'application/toml',
      ocaJob({ aggregator, registry, oracles }),
    )) as { job: { id: string } }
    jobIds.push(created.job.id)
  }
  line(
    'oca',
    `an offchainaggregation job on each of the 4 nodes, for the aggregator-to-be ${aggregator}`,
  )
  const statusOf = async (i: number): Promise<OcaJobStatus> => {
    const n = nodes[i]!
    const res = await fetch(`${n.node.apiUrl}/v2/jobs/${jobIds[i]}`, {
      headers: { authorization: `Bearer ${n.node.apiToken}` },
    })
    return ((await res.json()) as { job: { status: OcaJobStatus } }).job.status
  }
  const deadline = Date.now() + 120_000
  let key: { x: bigint; parity: number } | undefined
  while (!key) {
    const reports = await Promise.all(
      nodes.map(async (n, i) => ({ node: n.node.apiUrl, ...(await statusOf(i)) })),
    )
    const failed = reports.find((r) => r.state === 'failed')
    if (failed) throw new Error(`an offchainaggregation job failed: ${failed.error}`)
    key = agreedGroupKey(reports, nodes.length - F)
    if (!key) {
      if (Date.now() > deadline) throw new Error('the committee made no group key within 120 s')
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
  await deployThresholdAggregator(owner, {
    groupKey: key,
    oracles,
    f: F,
    epoch: 1,
    minAnswer: 1n,
    maxAnswer: 10n ** 30n,
    decimals: DECIMALS,
    description: 'ETH / USD (off-chain aggregation)',
    expectedAddress: aggregator,
  })
  line(
    'oca',
    `4 nodes made a group key by DKG over libp2p in ${Date.now() - started} ms; ThresholdAggregator ${aggregator} deployed with it`,
  )

  const rounds: { round: number; answer: bigint; gasUsed: bigint }[] = []
  const roundsDeadline = Date.now() + 180_000
  while (rounds.length < ROUNDS) {
    const updates = parseEventLogs({
      abi: ThresholdAggregatorAbi,
      logs: await owner.getLogs({ address: aggregator, fromBlock: 0n }),
      eventName: 'AnswerUpdated',
    })
    for (const u of updates.slice(rounds.length, ROUNDS)) {
      const receipt = await owner.getTransactionReceipt({ hash: u.transactionHash })
      const round = Number(u.args.roundId)
      rounds.push({ round, answer: u.args.current!, gasUsed: receipt.gasUsed })
      line(
        `oca round ${round}`,
        `answer ${formatUnits(u.args.current!, DECIMALS)} USD: one transmit, one threshold signature, ${receipt.gasUsed} gas (sent by ${receipt.from})`,
      )
    }
    if (rounds.length >= ROUNDS) break
    if (Date.now() > roundsDeadline)
      throw new Error(`only ${rounds.length} of ${ROUNDS} OCA rounds landed within 180 s`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  return {
    aggregator,
    rounds,
    /** Deletes the jobs (their committee hosts close). */
    stop: async () => {
      for (const [i, n] of nodes.entries()) {
        await fetch(`${n.node.apiUrl}/v2/jobs/${jobIds[i]}`, {
          method: 'DELETE',
          headers: { authorization: `Bearer ${n.node.apiToken}` },
        }).catch(() => {})
      }
    },
  }
}
