/**
 * Invariant fuzzing of the CommitRevealAggregator's money and round bookkeeping: random
 * sequences of requests, feed rounds, commits, reveals (valid or not), settlements,
 * withdrawals, stray transfers and clock jumps, on a real anvil. After every step:
 *   LINK held = feed funds + Σ oracles' withdrawable + Σ rounds' escrow + stray transfers;
 * at the end: no round finalised twice, no oracle paid twice for a round.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { encodeFunctionData, type Hex, parseEventLogs, toHex } from 'viem'
import { CommitRevealAggregatorAbi, LinkTokenAbi, OperatorAbi } from '../../artifacts/abis.ts'
import {
  type Committee,
  deployCommittee,
  randomSalt,
  type Signer,
} from '../../src/chain/commit-reveal-testing.ts'
import {
  increaseTime,
  linkBalance,
  send,
  startTestChain,
  type TestChain,
} from '../../src/chain/testing.ts'

const PAY = 10n ** 15n
const N = 4

type Action =
  | { kind: 'request'; extra: bigint }
  | { kind: 'feed'; oracle: number }
  | { kind: 'commit'; oracle: number; round: number; value: bigint }
  | { kind: 'reveal'; oracle: number; round: number; honest: boolean }
  | { kind: 'settle'; round: number }
  | { kind: 'withdraw'; oracle: number; all: boolean }
  | { kind: 'time'; seconds: number }
  | { kind: 'stray'; amount: bigint }
  | { kind: 'everyone'; round: number; value: bigint }

const oracle = fc.integer({ min: 0, max: N - 1 })
const round = fc.nat({ max: 30 })
const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('request' as const),
      extra: fc.bigInt({ min: 0n, max: PAY }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('feed' as const), oracle }) },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('commit' as const),
      oracle,
      round,
      value: fc.bigInt({ min: 1n, max: 10n ** 9n }),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('reveal' as const),
      oracle,
      round,
      honest: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('settle' as const), round }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('withdraw' as const), oracle, all: fc.boolean() }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('time' as const),
      seconds: fc.integer({ min: 1, max: 400 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('stray' as const),
      amount: fc.bigInt({ min: 1n, max: PAY }),
    }),
  },
  // Every member commits to a round, then every member reveals (so some rounds finalise).
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('everyone' as const),
      round,
      value: fc.bigInt({ min: 1n, max: 10n ** 9n }),
    }),
  },
)

describe('CommitRevealAggregator invariants', () => {
  let chain: TestChain
  before(async () => {
    chain = await startTestChain()
  })
  after(async () => {
    await chain?.stop()
  })

  it('LINK held always equals funds + earnings + escrow (+ stray); rounds finalise once; nobody is paid twice', async () => {
    let steps = 0
    let finalizedRounds = 0
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 30, maxLength: 70 }), async (actions) => {
        const c = await deployCommittee(chain, {
          n: N,
          f: 1,
          paymentPerAnswer: PAY,
          feedFunds: 20n * PAY,
          commitWindow: 300,
          revealWindow: 300,
        })
        const openings = new Map<string, { value: bigint; salt: Hex }>()
        let stray = 0n
        let nonce = 0n
        const fromBlock = await chain.owner.getBlockNumber()
        for (const a of actions) {
          const rounds = Number(await c.read<bigint>('latestRoundId'))
          // Mostly the newest rounds, so rounds fill up and finalise; sometimes an old one.
          const pick = (r: number) =>
            BigInt(
              rounds === 0
                ? 1
                : r % 5 === 0
                  ? (r % rounds) + 1
                  : rounds - (r % Math.min(rounds, 3)),
            )
          switch (a.kind) {
            case 'request': {
              nonce += 1n
              const owner = chain.owner.account.address
              const data = encodeFunctionData({
                abi: OperatorAbi,
                functionName: 'oracleRequest',
                args: [owner, 0n, toHex('inv', { size: 32 }), owner, '0x12345678', nonce, 1n, '0x'],
              })
              await send(chain.owner, {
                address: c.link,
                abi: LinkTokenAbi,
                functionName: 'transferAndCall',
                args: [c.aggregator, BigInt(N) * PAY + a.extra, data],
              })
              break
            }
            case 'feed':
              await c.call(c.oracles[a.oracle] as Signer, 'startFeedRound', [], 500_000n)
              break
            case 'commit': {
              const id = pick(a.round)
              const o = c.oracles[a.oracle] as Signer
              const salt = randomSalt()
              const receipt = await c.call(
                o,
                'commit',
                [id, c.commitment(o.address, id, a.value, salt)],
                500_000n,
              )
              if (receipt.status === 'success')
                openings.set(`${id}/${a.oracle}`, { value: a.value, salt })
              break
            }
            case 'reveal': {
              const id = pick(a.round)
              const opening = openings.get(`${id}/${a.oracle}`) ?? { value: 1n, salt: randomSalt() }
              const salt = a.honest ? opening.salt : randomSalt()
              await c.call(
                c.oracles[a.oracle] as Signer,
                'reveal',
                [id, opening.value, salt],
                1_000_000n,
              )
              break
            }
            case 'settle':
              await c.call(c.oracles[0] as Signer, 'settle', [pick(a.round)], 500_000n)
              break
            case 'withdraw': {
              const o = c.oracles[a.oracle] as Signer
              const rec = await c.read<{ withdrawable: bigint }>('getOracle', [o.address])
              await c.call(
                o,
                'withdraw',
                [o.address, a.all ? rec.withdrawable : rec.withdrawable / 2n],
                200_000n,
              )
              break
            }
            case 'everyone': {
              const id = pick(a.round)
              for (const [i, o] of c.oracles.entries()) {
                const salt = randomSalt()
                const value = a.value + BigInt(i)
                const receipt = await c.call(
                  o,
                  'commit',
                  [id, c.commitment(o.address, id, value, salt)],
                  500_000n,
                )
                if (receipt.status === 'success') openings.set(`${id}/${i}`, { value, salt })
                await checkBalance(c, stray)
              }
              for (const [i, o] of c.oracles.entries()) {
                const opening = openings.get(`${id}/${i}`)
                if (opening)
                  await c.call(o, 'reveal', [id, opening.value, opening.salt], 1_000_000n)
                await checkBalance(c, stray)
              }
              break
            }
            case 'time':
              await increaseTime(chain, a.seconds)
              break
            case 'stray':
              await send(chain.owner, {
                address: c.link,
                abi: LinkTokenAbi,
                functionName: 'transfer',
                args: [c.aggregator, a.amount],
              })
              stray += a.amount
              break
          }
          steps += 1
          await checkBalance(c, stray)
        }
        finalizedRounds += await checkEvents(c, fromBlock)
      }),
      { numRuns: 12, endOnFailure: true },
    )
    assert.ok(steps > 300)
    assert.ok(finalizedRounds > 0, 'some rounds finalised')
  })

  async function checkBalance(c: Committee, stray: bigint) {
    const rounds = Number(await c.read<bigint>('latestRoundId'))
    const [held, funds, records, views] = await Promise.all([
      linkBalance(chain, c.link, c.aggregator),
      c.read<bigint>('availableFunds'),
      Promise.all(c.oracles.map((o) => c.read<{ withdrawable: bigint }>('getOracle', [o.address]))),
      Promise.all(
        Array.from({ length: rounds }, (_, i) =>
          c.read<{ escrow: bigint }>('getRound', [BigInt(i + 1)]),
        ),
      ),
    ])
    const owed = records.reduce((sum, r) => sum + r.withdrawable, 0n)
    const escrow = views.reduce((sum, r) => sum + r.escrow, 0n)
    assert.equal(held, funds + owed + escrow + stray, 'LINK held = funds + owed + escrow + stray')
  }

  async function checkEvents(c: Committee, fromBlock: bigint): Promise<number> {
    const logs = await chain.owner.getLogs({ address: c.aggregator, fromBlock })
    const events = parseEventLogs({ abi: CommitRevealAggregatorAbi, logs })
    const finalized = new Set<bigint>()
    const paid = new Set<string>()
    for (const e of events) {
      if (e.eventName === 'RoundFinalized') {
        const id = (e.args as { roundId: bigint }).roundId
        assert.ok(!finalized.has(id), `round ${id} finalised twice`)
        finalized.add(id)
      }
      if (e.eventName === 'Revealed') {
        const { roundId, oracle } = e.args as { roundId: bigint; oracle: string }
        const key = `${roundId}/${oracle}`
        assert.ok(!paid.has(key), `oracle ${oracle} paid twice in round ${roundId}`)
        paid.add(key)
      }
    }
    return finalized.size
  }
})
