/**
 * Gas of a commit–reveal round (CommitRevealAggregator) for a committee of n, beside the same n
 * oracles each submitting once to a plain median contract (no commit–reveal). Measured in the
 * steady state: the committee first runs RING rounds, so every ring slot and every oracle's
 * record already holds a value, as on a feed that has been running.
 */
import { type Address, encodeFunctionData, type Hex, type TransactionReceipt, toHex } from 'viem'
import {
  GasSinkAbi,
  GasSinkBytecode,
  LinkTokenAbi,
  OperatorAbi,
  PlainMedianAbi,
  PlainMedianBytecode,
} from '../artifacts/abis.ts'
import { deployCommittee, randomSalt, type Signer } from '../src/chain/commit-reveal-testing.ts'
import { deployContract, send, type TestChain } from '../src/chain/testing.ts'

export type CommitRevealGas = {
  n: number
  request_gas: number
  commit_gas: number
  reveal_gas: number
  final_reveal_gas: number
  late_reveal_gas: number
  round_total_gas: number
  feed_round_total_gas: number
  plain_median_round_gas: number
}

const RING = 8
const SPEC_ID = toHex('bench', { size: 32 })

function assertSuccess(receipt: TransactionReceipt, what: string): number {
  if (receipt.status !== 'success') throw new Error(`${what} reverted (${receipt.transactionHash})`)
  return Number(receipt.gasUsed)
}

/** Measures one committee of `n` (f = ⌊(n−1)/3⌋, median over 2f+1) on `chain`. */
export async function measureCommitReveal(
  chain: TestChain,
  n: number,
  cbor: Hex,
): Promise<CommitRevealGas> {
  const f = Math.floor((n - 1) / 3)
  const payment = 10n ** 16n
  const c = await deployCommittee(chain, {
    n,
    f,
    paymentPerAnswer: payment,
    feedFunds: 10n ** 24n,
    callbackGasLimit: 100_000,
  })
  const sink = await deployContract(chain.owner, {
    name: 'GasSink',
    abi: GasSinkAbi,
    bytecode: GasSinkBytecode,
    args: [],
  })
  const fulfill = encodeFunctionData({
    abi: GasSinkAbi,
    functionName: 'fulfill',
    args: [toHex(0n, { size: 32 }), 0n],
  }).slice(0, 10) as Hex
  let nonce = 0n
  let feedStarts = 0

  /** One whole round; every member commits, then every member reveals. */
  async function round(kind: 'request' | 'feed') {
    const oracles = c.oracles
    let start: TransactionReceipt
    if (kind === 'request') {
      nonce += 1n
      const data = encodeFunctionData({
        abi: OperatorAbi,
        functionName: 'oracleRequest',
        args: [c.chain.owner.account.address, 0n, SPEC_ID, sink, fulfill, nonce, 1n, cbor],
      })
      start = await send(chain.owner, {
        address: c.link,
        abi: LinkTokenAbi,
        functionName: 'transferAndCall',
        args: [c.aggregator, BigInt(n) * payment, data],
      })
    } else {
      // Members take turns: one that started a feed round waits for f others.
      start = await c.call(oracles[feedStarts++ % oracles.length] as Signer, 'startFeedRound', [])
    }
    const startGas = assertSuccess(start, `${kind} start`)
    const roundId = await c.read<bigint>('latestRoundId')
    const values = oracles.map((_, i) => 1_000_000n + BigInt((i * 7919) % 1000))
    const salts = oracles.map(() => randomSalt())
    const commits: number[] = []
    for (const [i, o] of oracles.entries()) {
      const commitment = c.commitment(o.address, roundId, values[i] as bigint, salts[i] as Hex)
      commits.push(assertSuccess(await c.call(o, 'commit', [roundId, commitment]), 'commit'))
    }
    const reveals: number[] = []
    for (const [i, o] of oracles.entries()) {
      reveals.push(
        assertSuccess(await c.call(o, 'reveal', [roundId, values[i], salts[i]]), 'reveal'),
      )
    }
    return { startGas, commits, reveals }
  }

  for (let i = 0; i < RING; i++) await round(i % 2 === 0 ? 'request' : 'feed')
  const req = await round('request')
  const feed = await round('feed')
  const minReveals = 2 * f + 1
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)
  const nonFinal = req.reveals.slice(0, minReveals - 1)
  const late = req.reveals.slice(minReveals)

  // The anchor: the same oracles submit once each to a plain median contract.
  const plain = await deployContract(chain.owner, {
    name: 'PlainMedian',
    abi: PlainMedianAbi,
    bytecode: PlainMedianBytecode,
    args: [c.oracles.map((o) => o.address) as Address[]],
  })
  let plainTotal = 0
  for (let r = 1n; r <= 2n; r++) {
    plainTotal = 0
    for (const [i, o] of c.oracles.entries()) {
      const data = encodeFunctionData({
        abi: PlainMedianAbi,
        functionName: 'submit',
        args: [r, 1_000_000n + BigInt(i)],
      })
      plainTotal += assertSuccess(await o.send(plain, data), 'plain submit')
    }
  }

  return {
    n,
    request_gas: req.startGas,
    commit_gas: Math.max(...req.commits),
    reveal_gas: nonFinal.length ? Math.max(...nonFinal) : 0,
    final_reveal_gas: req.reveals[minReveals - 1] as number,
    late_reveal_gas: late.length ? Math.max(...late) : 0,
    round_total_gas: req.startGas + sum(req.commits) + sum(req.reveals),
    feed_round_total_gas: feed.startGas + sum(feed.commits) + sum(feed.reveals),
    plain_median_round_gas: plainTotal,
  }
}
