/**
 * Off-chain aggregation figures (issue 7), one JSON line per committee size n = 4, 7, 16, 31
 * (f = ⌊(n−1)/3⌋, t = f+1):
 * - `transmit_gas`: a ThresholdAggregator transmission with one threshold Schnorr signature, in
 *   the steady state (the latest-answer slot already written), on anvil;
 * - `dkg_ms`: one key DKG among n participants simulated in this one process (every message
 *   delivered directly: the computation of all n, without the network); `dkg_per_node_ms` is
 *   that divided by n, what each node computes;
 * - `settle_100_rounds_gas`: OcaRewards settling 100 rounds (every member rewarded) in one batch,
 *   members already owed something;
 * - `commit_reveal_round_gas`: the commit–reveal round of the same n (bench/commit-reveal-gas.ts),
 *   so the ratio shows.
 * - the protocol's round figures over a real committee on loopback (bench/oca-rounds.ts, whose
 *   header says what is measured): `round_p50_ms`, `round_p99_ms` (observe → Σ at a member),
 *   `msgs_per_round`, `bytes_per_round` (OCA messages per node per round), and the nonce-batch
 *   DKG apart, amortised per round (`nonce_batch_msgs`, `nonce_batch_bytes`, `nonce_batch_ms`).
 *
 *   npm run bench:oca
 *   BENCH_SIZES=4,7 BENCH_OCA_ROUNDS=50 BENCH_OCA_WARMUP=3 BENCH_OCA_VIEWS=1 npm run bench:oca
 *
 * BENCH_OCA_ROUNDS (default 40) timed rounds per n after BENCH_OCA_WARMUP (default 3) untimed
 * ones; BENCH_OCA_VIEWS (default 1) nonces per round (the node's default is f+2, for view
 * changes; the bench has no faults, and the nonce DKG's cost is linear in it);
 * BENCH_OCA_ROUNDS=0 skips the round figures.
 */
import { keccak256, toHex } from 'viem'
import {
  LinkTokenAbi,
  OcaRewardsAbi,
  OcaRewardsBytecode,
  ThresholdAggregatorAbi,
  ThresholdAggregatorBytecode,
} from '../artifacts/abis.ts'
import { deployContract, deployLinkToken, send, startTestChain } from '../src/chain/testing.ts'
import { thresholdCommittee } from '../src/crypto/dkg-testing.ts'
import { measureCommitReveal } from './commit-reveal-gas.ts'
import { measureRounds } from './oca-rounds.ts'

const SIZES = (process.env.BENCH_SIZES ?? '4,7,16,31').split(',').map(Number)
const ROUNDS = Number(process.env.BENCH_OCA_ROUNDS ?? 40)
const WARMUP = Number(process.env.BENCH_OCA_WARMUP ?? 3)
const VIEWS = Number(process.env.BENCH_OCA_VIEWS ?? 1)

async function main() {
  const chain = await startTestChain()
  try {
    for (const n of SIZES) {
      const f = Math.floor((n - 1) / 3)
      const t = f + 1
      const context = keccak256(toHex(`bench oca ${n}`))
      // The committee's key DKG (all n participants in this process) is what is timed.
      const started = performance.now()
      const committee = thresholdCommittee(n, t, context)
      const dkgMs = performance.now() - started
      const oracles = Array.from({ length: n }, (_, i) => toHex(i + 1, { size: 20 }))
      const aggregator = await deployContract(chain.owner, {
        name: 'ThresholdAggregator',
        abi: ThresholdAggregatorAbi,
        bytecode: ThresholdAggregatorBytecode,
        args: [
          committee.publicKey.x,
          committee.publicKey.parity,
          oracles,
          f,
          1,
          1n,
          10n ** 30n,
          8,
          'ETH / USD',
        ],
      })
      let transmitGas = 0
      for (let round = 1; round <= 3; round++) {
        const answer = 300_000_000_000n + BigInt(round * 1000 + n)
        const observationsHash = keccak256(toHex(`observations ${n}/${round}`))
        const message = await chain.owner.readContract({
          address: aggregator,
          abi: ThresholdAggregatorAbi,
          functionName: 'reportMessage',
          args: [round, answer, observationsHash],
        })
        const sig = committee.sign(message)
        const receipt = await send(chain.node, {
          address: aggregator,
          abi: ThresholdAggregatorAbi,
          functionName: 'transmit',
          args: [round, answer, observationsHash, sig.s, sig.nonceAddress],
        })
        transmitGas = Number(receipt.gasUsed) // the last: steady state
      }
      // Algorithm 3 settled on chain: 100 rounds, every member rewarded, in one batch.
      const link = await deployLinkToken(chain.owner)
      const rewards = await deployContract(chain.owner, {
        name: 'OcaRewards',
        abi: OcaRewardsAbi,
        bytecode: OcaRewardsBytecode,
        args: [link, chain.owner.account.address, oracles, 10n ** 15n],
      })
      await send(chain.owner, {
        address: link,
        abi: LinkTokenAbi,
        functionName: 'transferAndCall',
        args: [rewards, 10n ** 24n, '0x'],
      })
      const everyone = (1n << BigInt(n)) - 1n
      let settled = await send(chain.owner, {
        address: rewards,
        abi: OcaRewardsAbi,
        functionName: 'settle',
        args: [1, Array(100).fill(everyone)],
      })
      // The steady state: members already owed something (no fresh storage slots).
      settled = await send(chain.owner, {
        address: rewards,
        abi: OcaRewardsAbi,
        functionName: 'settle',
        args: [101, Array(100).fill(everyone)],
      })
      const cr = await measureCommitReveal(chain, n, '0x')
      const rounds =
        ROUNDS > 0
          ? await measureRounds(n, f, {
              rounds: ROUNDS,
              warmup: WARMUP,
              views: VIEWS,
              roundTimeoutMs: 10_000 + 1_000 * n,
            })
          : {}
      console.log(
        JSON.stringify({
          bench: 'oca',
          n,
          f,
          transmit_gas: transmitGas,
          dkg_ms: Number(dkgMs.toFixed(1)),
          dkg_per_node_ms: Number((dkgMs / n).toFixed(1)),
          settle_100_rounds_gas: Number(settled.gasUsed),
          commit_reveal_round_gas: cr.round_total_gas,
          transmit_vs_commit_reveal_ratio: Number((transmitGas / cr.round_total_gas).toFixed(4)),
          ...rounds,
        }),
      )
    }
  } finally {
    await chain.stop()
  }
}

await main()
