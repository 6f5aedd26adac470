import { formatUnits, toHex } from 'viem'
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts'
import type { Anvil } from '../chain/anvil.ts'
import type { ChainClient } from '../chain/client.ts'
import { createLogger } from '../common.ts'
import type { LocalNode } from '../node/local.ts'
import { startOcaCommittee } from '../oca/local-committee.ts'
import { parseJson } from '../pipeline/json.ts'

const DECIMALS = 8
const ROUNDS = 3

/**
 * The off-chain aggregation part of `npm start`: the demo's four nodes (their databases and
 * price adapters) form an OCA committee (f = 1) with fresh oracle keys, make a group key by DKG
 * over libp2p, and a ThresholdAggregator is deployed with it; then each feed round is one
 * `transmit` with one threshold Schnorr signature. (The node job type that runs this inside the
 * node comes next; here the members run beside the nodes, on the nodes' databases.)
 */
export async function runOcaDemo(p: {
  owner: ChainClient
  anvil: Anvil
  nodes: LocalNode[]
  adapterUrls: string[]
  line(label: string, text: string): void
}) {
  const members = await Promise.all(
    p.nodes.map(async (node, i) => {
      const oracleKey = generatePrivateKey()
      await p.owner.request({
        method: 'anvil_setBalance',
        params: [privateKeyToAddress(oracleKey), toHex(10n ** 20n)],
      } as never)
      return {
        db: node.node.common.db,
        password: node.config.keystore.password ?? 'demo',
        oracleKey,
        // The node's own price adapter, scaled to the feed's decimals.
        observe: async () => {
          const res = await fetch(p.adapterUrls[i] as string, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ id: `oca-${i}`, data: { pair: 'ETH-USD' } }),
          })
          const text = await res.text()
          const body = parseJson(text) as { result?: unknown }
          const result = String(body.result)
          if (!res.ok || !/^\d+(\.\d+)?$/.test(result)) {
            throw new Error(
              `the price adapter gave no price (HTTP ${res.status}): ${text.slice(0, 200)}`,
            )
          }
          const [whole = '0', fraction = ''] = result.split('.')
          return BigInt(whole + fraction.padEnd(DECIMALS, '0').slice(0, DECIMALS))
        },
      }
    }),
  )
  const started = Date.now()
  const committee = await startOcaCommittee({
    owner: p.owner,
    rpcUrl: p.anvil.rpcUrl,
    members,
    f: 1,
    decimals: DECIMALS,
    description: 'ETH / USD (off-chain aggregation)',
    logger: createLogger({ level: 'error' }),
    // Room for a busy machine (four nodes, four members and anvil in one process).
    timing: {
      viewTimeoutMs: 5_000,
      viewsPerRound: 4,
      transmitStepMs: 2_000,
      phaseTimeoutMs: 6_000,
    },
  })
  p.line(
    'oca',
    `4 nodes made a group key by DKG over libp2p in ${Date.now() - started} ms; ThresholdAggregator ${committee.aggregator} deployed with it`,
  )
  const rounds: { round: number; answer: bigint; gasUsed: bigint }[] = []
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const result = await committee.playRound(round, 90_000)
      rounds.push({ round, answer: result.answer, gasUsed: result.gasUsed })
      p.line(
        `oca round ${round}`,
        `answer ${formatUnits(result.answer, DECIMALS)} USD: one transmit, one threshold signature, ${result.gasUsed} gas (sent by ${result.transmitter})`,
      )
    }
  } catch (err) {
    await committee.stop()
    throw err
  }
  return { rounds, stop: () => committee.stop() }
}
