/**
 * Algorithm 1's claims on a real anvil, for n = 4, f = 1 and n = 7, f = 2: over hundreds of
 * rounds with a random faulty set of at most f oracles — silent, reporting wild values, copying
 * another's commitment, or replaying another's reveal — every round finalises with an answer
 * inside the honest values' range, copied commitments never open, copied reveals are refused,
 * and only valid revealers are paid, once.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { encodeFunctionData, type Hex, parseEventLogs, toHex } from 'viem'
import {
  CommitRevealAggregatorAbi,
  GasSinkAbi,
  GasSinkBytecode,
  LinkTokenAbi,
  OperatorAbi,
} from '../../artifacts/abis.ts'
import {
  type Committee,
  deployCommittee,
  randomSalt,
  type Signer,
} from '../../src/chain/commit-reveal-testing.ts'
import { deployContract, send, startTestChain, type TestChain } from '../../src/chain/testing.ts'

type Fault = 'silent' | 'wild' | 'copyCommit' | 'copyReveal'
const FAULTS: Fault[] = ['silent', 'wild', 'copyCommit', 'copyReveal']
const PAY = 10n ** 15n

type Scenario = {
  request: boolean
  base: bigint
  noise: number[]
  faulty: { index: number; fault: Fault; wild: bigint }[]
  commitOrder: number[]
  revealOrder: number[]
}

function scenario(n: number, f: number): fc.Arbitrary<Scenario> {
  const order = fc.array(fc.nat(), { minLength: n, maxLength: n }).map((keys) =>
    keys
      .map((k, i) => [k, i] as const)
      .sort((a, b) => a[0] - b[0] || a[1] - b[1])
      .map(([, i]) => i),
  )
  return fc.record({
    request: fc.boolean(),
    base: fc.bigInt({ min: 1_000_000n, max: 10n ** 12n }),
    noise: fc.array(fc.integer({ min: -5000, max: 5000 }), { minLength: n, maxLength: n }),
    faulty: fc.uniqueArray(
      fc.record({
        index: fc.integer({ min: 0, max: n - 1 }),
        fault: fc.constantFrom(...FAULTS),
        wild: fc.bigInt({ min: 1n, max: 10n ** 30n }),
      }),
      { maxLength: f, selector: (x) => x.index },
    ),
    commitOrder: order,
    revealOrder: order,
  })
}

describe('CommitRevealAggregator: Algorithm 1 claims', () => {
  let chain: TestChain
  before(async () => {
    chain = await startTestChain()
  })
  after(async () => {
    await chain?.stop()
  })

  for (const [n, f, runs] of [
    [4, 1, 150],
    [7, 2, 100],
  ] as const) {
    it(`n = ${n}, f = ${f}: ${runs} rounds, random faulty sets, no wrong answer, only valid revealers paid`, async () => {
      const c = await deployCommittee(chain, { n, f, paymentPerAnswer: PAY, feedFunds: 10n ** 24n })
      const sink = await deployContract(chain.owner, {
        name: 'GasSink',
        abi: GasSinkAbi,
        bytecode: GasSinkBytecode,
        args: [],
      })
      let nonce = 0n
      let finalized = 0
      let copiesRefused = 0
      await fc.assert(
        fc.asyncProperty(scenario(n, f), async (s) => {
          const roundId = await startRound(c, s.request, sink, ++nonce)
          const result = await playRound(c, roundId, s)
          copiesRefused += result.copiesRefused
          const view = await c.read<{ status: number; answer: bigint }>('getRound', [roundId])
          assert.equal(view.status, 2, 'every round finalises')
          finalized += 1
          assert.ok(
            view.answer >= result.honestMin && view.answer <= result.honestMax,
            `answer ${view.answer} outside the honest range [${result.honestMin}, ${result.honestMax}]`,
          )
          if (s.request) {
            const [id, value] = await Promise.all([
              chain.owner.readContract({
                address: sink,
                abi: GasSinkAbi,
                functionName: 'lastRequestId',
              }),
              chain.owner.readContract({
                address: sink,
                abi: GasSinkAbi,
                functionName: 'lastValue',
              }),
            ])
            assert.equal(value, view.answer, 'the requester received the answer')
            assert.notEqual(id, toHex(0n, { size: 32 }))
          }
        }),
        { numRuns: runs, endOnFailure: true },
      )
      assert.equal(finalized, runs)
      assert.ok(copiesRefused > 0, 'the scenarios exercised copying')
    })
  }

  it('more concurrent rounds than ring slots: entries overflow and every round still gets its own values', async () => {
    const c = await deployCommittee(chain, {
      n: 4,
      f: 1,
      paymentPerAnswer: PAY,
      feedFunds: 10n ** 24n,
    })
    const sink = await deployContract(chain.owner, {
      name: 'GasSink',
      abi: GasSinkAbi,
      bytecode: GasSinkBytecode,
      args: [],
    })
    const rounds: { id: bigint; salts: Hex[]; values: bigint[] }[] = []
    for (let r = 0; r < 20; r++) {
      const id = await startRound(c, true, sink, BigInt(1000 + r))
      const values = c.oracles.map((_, i) => BigInt(1000 * (r + 1) + i))
      const salts = c.oracles.map(() => randomSalt())
      for (const [i, o] of c.oracles.entries()) {
        const receipt = await c.call(o, 'commit', [
          id,
          c.commitment(o.address, id, values[i] as bigint, salts[i] as Hex),
        ])
        assert.equal(receipt.status, 'success')
      }
      rounds.push({ id, salts, values })
    }
    for (const r of [...rounds].reverse()) {
      for (const [i, o] of c.oracles.entries()) {
        const receipt = await c.call(o, 'reveal', [r.id, r.values[i], r.salts[i]])
        assert.equal(receipt.status, 'success', `reveal in round ${r.id}`)
      }
      const view = await c.read<{ status: number; answer: bigint }>('getRound', [r.id])
      const sorted = r.values.slice(0, 3).sort((a, b) => (a < b ? -1 : 1))
      assert.deepEqual([view.status, view.answer], [2, sorted[1]])
    }
  })
})

const feedRoundsStarted = new Map<string, number>()

async function startRound(c: Committee, request: boolean, sink: `0x${string}`, nonce: bigint) {
  if (request) {
    const fulfill = encodeFunctionData({
      abi: GasSinkAbi,
      functionName: 'fulfill',
      args: [toHex(0n, { size: 32 }), 0n],
    }).slice(0, 10) as Hex
    const owner = c.chain.owner.account.address
    const data = encodeFunctionData({
      abi: OperatorAbi,
      functionName: 'oracleRequest',
      args: [owner, 0n, toHex('claims', { size: 32 }), sink, fulfill, nonce, 1n, '0x'],
    })
    await send(c.chain.owner, {
      address: c.link,
      abi: LinkTokenAbi,
      functionName: 'transferAndCall',
      args: [c.aggregator, BigInt(c.oracles.length) * PAY, data],
    })
    return c.read<bigint>('latestRoundId')
  }
  // Members take turns (one that started a feed round waits for f others); the previous round
  // finalised, so none is in progress.
  const feedRounds = feedRoundsStarted.get(c.aggregator) ?? 0
  feedRoundsStarted.set(c.aggregator, feedRounds + 1)
  const receipt = await c.call(
    c.oracles[feedRounds % c.oracles.length] as Signer,
    'startFeedRound',
    [],
  )
  assert.equal(receipt.status, 'success', 'startFeedRound')
  return c.read<bigint>('latestRoundId')
}

/**
 * Plays one round: every non-silent member commits (copiers copy an honest commitment already
 * made), then members reveal in a random order; copiers try to open what they copied, replayers
 * try another's revealed (value, salt). Checks the payments of the round.
 */
async function playRound(c: Committee, roundId: bigint, s: Scenario) {
  const n = c.oracles.length
  const fault = new Map(s.faulty.map((x) => [x.index, x]))
  const honest = [...Array(n).keys()].filter((i) => !fault.has(i))
  const value = (i: number) => {
    const x = fault.get(i)
    return x?.fault === 'wild' ? x.wild : s.base + BigInt(s.noise[i] as number)
  }
  const salts = c.oracles.map(() => randomSalt())
  const before = await Promise.all(
    c.oracles.map((o) => c.read<{ withdrawable: bigint }>('getOracle', [o.address])),
  )

  // Commits: honest members first in random order, copiers once something exists to copy.
  const committed = new Map<number, Hex>()
  const commitOrder = [
    ...s.commitOrder.filter((i) => !fault.has(i)),
    ...s.commitOrder.filter((i) => fault.has(i)),
  ]
  for (const i of commitOrder) {
    const x = fault.get(i)
    if (x?.fault === 'silent') continue
    const oracle = c.oracles[i] as Signer
    let commitment: Hex
    if (x?.fault === 'copyCommit') {
      const victim = honest[i % honest.length] as number
      commitment = committed.get(victim) as Hex
    } else {
      commitment = c.commitment(oracle.address, roundId, value(i), salts[i] as Hex)
    }
    const receipt = await c.call(oracle, 'commit', [roundId, commitment])
    assert.equal(receipt.status, 'success', `commit by ${i}`)
    committed.set(i, commitment)
  }

  // Reveals.
  const paid = new Set<number>()
  const revealed: number[] = []
  let copiesRefused = 0
  for (const i of s.revealOrder) {
    const x = fault.get(i)
    if (x?.fault === 'silent') continue
    const oracle = c.oracles[i] as Signer
    if (x?.fault === 'copyCommit' || x?.fault === 'copyReveal') {
      // Open the copied commitment with the victim's (value, salt), or replay the last reveal.
      const victim =
        x.fault === 'copyCommit' ? (honest[i % honest.length] as number) : revealed.at(-1)
      if (victim === undefined) continue
      const error = await c.revertOf(oracle, 'reveal', [roundId, value(victim), salts[victim]])
      assert.equal(error, 'InvalidReveal', `a copied reveal by ${i} must be refused`)
      copiesRefused += 1
      continue
    }
    const receipt = await c.call(oracle, 'reveal', [roundId, value(i), salts[i]])
    assert.equal(receipt.status, 'success', `reveal by ${i}`)
    const reveals = parseEventLogs({
      abi: CommitRevealAggregatorAbi,
      logs: receipt.logs,
      eventName: 'Revealed',
    })
    assert.equal(reveals.length, 1)
    paid.add(i)
    revealed.push(i)
  }

  // Only valid revealers are paid, each exactly once.
  const afterRecords = await Promise.all(
    c.oracles.map((o) => c.read<{ withdrawable: bigint }>('getOracle', [o.address])),
  )
  for (let i = 0; i < n; i++) {
    const delta = (afterRecords[i]?.withdrawable ?? 0n) - (before[i]?.withdrawable ?? 0n)
    assert.equal(delta, paid.has(i) ? PAY : 0n, `payment of oracle ${i}`)
  }
  const honestValues = honest.map(value).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  return {
    honestMin: honestValues[0] as bigint,
    honestMax: honestValues.at(-1) as bigint,
    copiesRefused,
  }
}
