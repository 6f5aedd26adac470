import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { type Abi, type Address, maxInt256, minInt256, toFunctionSelector } from 'viem'
import {
  MajorityAggregationAbi,
  MajorityAggregationBytecode,
  MedianAggregationAbi,
  MedianAggregationBytecode,
  TrimmedMeanAggregationAbi,
  TrimmedMeanAggregationBytecode,
} from '../../artifacts/abis.ts'
import { deployContract, startTestChain, type TestChain } from '../../src/chain/testing.ts'

/**
 * The aggregation functions on anvil against a reference model in TypeScript (fast-check over
 * random values, extremes included), and what they promise: with at most f values lying, the
 * median of 2f+1 and the f-trimmed mean stay within the honest values' range, and a majority of
 * f+1 is a value some honest oracle reported.
 */

/** Every message along an error's causes. */
const errorChain = (err: unknown): string => {
  const parts: string[] = []
  for (
    let e = err as { message?: string; cause?: unknown } | undefined;
    e;
    e = e.cause as typeof e
  ) {
    parts.push(String(e.message))
  }
  return parts.join(' | ')
}

/** Division rounded toward zero (BigInt division already truncates). */
const trunc = (a: bigint, b: bigint) => a / b
const sortBig = (v: bigint[]) => [...v].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))

const model = {
  median(values: bigint[], minValues: bigint): [boolean, bigint] {
    if (values.length === 0 || BigInt(values.length) < minValues) return [false, 0n]
    const s = sortBig(values)
    const n = s.length
    return n % 2 === 1 ? [true, s[(n - 1) / 2]!] : [true, trunc(s[n / 2 - 1]! + s[n / 2]!, 2n)]
  },
  trimmedMean(values: bigint[], k: bigint): [boolean, bigint] {
    const n = BigInt(values.length)
    if (n <= 2n * k) return [false, 0n]
    const kept = sortBig(values).slice(Number(k), Number(n - k))
    return [
      true,
      trunc(
        kept.reduce((a, b) => a + b, 0n),
        BigInt(kept.length),
      ),
    ]
  },
  majority(values: bigint[], threshold: bigint): [boolean, bigint] {
    const counts = new Map<bigint, number>()
    for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1)
    const winners = sortBig([...counts].filter(([, c]) => BigInt(c) >= threshold).map(([v]) => v))
    return winners.length > 0 ? [true, winners[0]!] : [false, 0n]
  },
}

const int256 = fc.oneof(
  { weight: 3, arbitrary: fc.bigInt({ min: -1000n, max: 1000n }) },
  { weight: 2, arbitrary: fc.bigInt({ min: minInt256, max: maxInt256 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(minInt256, maxInt256, minInt256 + 1n, maxInt256 - 1n, -1n, 0n, 1n),
  },
)

describe('aggregation functions (median, trimmed mean, majority)', () => {
  let chain: TestChain
  const deployed: Record<string, Address> = {}
  const deploy = async (name: string, abi: Abi, bytecode: `0x${string}`, arg: bigint) => {
    deployed[`${name}/${arg}`] ??= await deployContract(chain.owner, {
      name,
      abi,
      bytecode,
      args: [arg],
    })
    return deployed[`${name}/${arg}`]!
  }
  const call = async (abi: Abi, address: Address, values: bigint[]): Promise<[boolean, bigint]> =>
    (await chain.owner.readContract({
      address,
      abi,
      functionName: 'aggregate',
      args: [values],
    })) as [boolean, bigint]
  const median = async (values: bigint[], minValues = 1n) =>
    call(
      MedianAggregationAbi,
      await deploy('MedianAggregation', MedianAggregationAbi, MedianAggregationBytecode, minValues),
      values,
    )
  const trimmed = async (values: bigint[], k: bigint) =>
    call(
      TrimmedMeanAggregationAbi,
      await deploy(
        'TrimmedMeanAggregation',
        TrimmedMeanAggregationAbi,
        TrimmedMeanAggregationBytecode,
        k,
      ),
      values,
    )
  const majority = async (values: bigint[], threshold: bigint) =>
    call(
      MajorityAggregationAbi,
      await deploy(
        'MajorityAggregation',
        MajorityAggregationAbi,
        MajorityAggregationBytecode,
        threshold,
      ),
      values,
    )

  before(async () => {
    chain = await startTestChain()
  })
  after(async () => {
    await chain?.stop()
  })

  it('agree with the reference model on random values, extremes included', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(int256, { maxLength: 12 }),
        fc.bigInt({ min: 0n, max: 4n }),
        async (values, k) => {
          assert.deepEqual(await median(values), model.median(values, 1n))
          assert.deepEqual(await trimmed(values, k), model.trimmedMean(values, k))
          assert.deepEqual(await majority(values, k + 1n), model.majority(values, k + 1n))
        },
      ),
      { numRuns: 60 },
    )
  })

  it('promise: f liars cannot move the median of 2f+1 or the f-trimmed mean out of the honest range', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }).chain((f) =>
          fc.tuple(
            fc.constant(f),
            fc.array(fc.bigInt({ min: 2900n, max: 3100n }), {
              minLength: f + 1,
              maxLength: 2 * f + 1,
            }),
            fc.array(int256, { minLength: f, maxLength: f }),
          ),
        ),
        async ([f, honest, liars]) => {
          const values = [...honest, ...liars]
          const lo = sortBig(honest)[0]!
          const hi = sortBig(honest).at(-1)!
          const [okM, m] = await median(values, BigInt(2 * f + 1))
          assert.equal(okM, values.length >= 2 * f + 1)
          if (okM) assert.ok(m >= lo && m <= hi, `median ${m} outside [${lo}, ${hi}]`)
          const [okT, t] = await trimmed(values, BigInt(f))
          assert.equal(okT, values.length > 2 * f)
          if (okT) assert.ok(t >= lo && t <= hi, `trimmed mean ${t} outside [${lo}, ${hi}]`)
        },
      ),
      { numRuns: 40 },
    )
  })

  it('promise: a majority of f+1 is a value an honest oracle reported', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 1, max: 4 })
          .chain((f) =>
            fc.tuple(
              fc.constant(f),
              fc.constantFrom(0n, 1n),
              fc.array(int256, { minLength: f, maxLength: f }),
            ),
          ),
        async ([f, truth, liars]) => {
          // 2f+1 honest oracles agree on `truth`; f liars say anything.
          const values = [...Array(2 * f + 1).fill(truth), ...liars]
          const [ok, answer] = await majority(values, BigInt(f + 1))
          assert.equal(ok, true)
          // A liars' value can reach f+1 only with an honest vote: it is then the truth.
          assert.equal(answer === truth || liars.filter((l) => l === answer).length >= f + 1, true)
        },
      ),
      { numRuns: 30 },
    )
  })

  it('decides nothing from too few values, and refuses bad parameters', async () => {
    assert.deepEqual(await median([], 1n), [false, 0n])
    assert.deepEqual(await median([5n, 7n], 3n), [false, 0n])
    assert.deepEqual(await median([5n, 7n, 6n], 3n), [true, 6n])
    assert.deepEqual(await median([-3n, 4n]), [true, 0n], '(−3 + 4) / 2 rounds toward zero')
    assert.deepEqual(await median([maxInt256, maxInt256 - 2n]), [true, maxInt256 - 1n])
    assert.deepEqual(await trimmed([1n, 2n], 1n), [false, 0n])
    assert.deepEqual(await trimmed([minInt256, minInt256, minInt256], 0n), [true, minInt256])
    assert.deepEqual(await majority([1n, 2n, 3n], 2n), [false, 0n])
    for (const [name, abi, bytecode] of [
      ['MedianAggregation', MedianAggregationAbi, MedianAggregationBytecode],
      ['MajorityAggregation', MajorityAggregationAbi, MajorityAggregationBytecode],
    ] as const) {
      // The constructor's custom error, by its selector (deploy errors carry no ABI decoding).
      await assert.rejects(
        deployContract(chain.owner, { name, abi, bytecode, args: [0n] }),
        (err: unknown) => errorChain(err).includes(toFunctionSelector('InvalidParameter()')),
      )
    }
    await assert.rejects(median(Array(256).fill(1n)), /TooManyValues/)
  })
})
