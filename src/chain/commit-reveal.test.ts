import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { keccak_256 } from '@noble/hashes/sha3'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils'
import fc from 'fast-check'
import type { Address, Hex } from 'viem'
import { CommitRevealAggregatorAbi, CommitRevealAggregatorBytecode } from '../../artifacts/abis.ts'
import { commitmentOf, randomSalt } from './commit-reveal.ts'
import { deployContract, startTestChain, type TestChain } from './testing.ts'

/** abi.encode of static words, written out by hand: each value as one 32-byte word. */
function word(v: bigint): string {
  return (v < 0n ? 2n ** 256n + v : v).toString(16).padStart(64, '0')
}

const params = {
  chainId: 31337,
  aggregator: '0x5FbDB2315678afecb367f032d93F642f64180aa3' as Address,
  configVersion: 2,
  roundId: 17n,
  oracle: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8' as Address,
  value: -123_456_789n,
  salt: `0x${'5a'.repeat(32)}` as Hex,
}

describe('commitments (the node side of commitmentFor)', () => {
  it('are keccak256 of the seven abi-encoded words', () => {
    const encoded = [
      word(31337n),
      word(BigInt(params.aggregator)),
      word(2n),
      word(17n),
      word(BigInt(params.oracle)),
      word(-123_456_789n),
      '5a'.repeat(32),
    ].join('')
    assert.equal(commitmentOf(params), `0x${bytesToHex(keccak_256(hexToBytes(encoded)))}`)
  })

  it('change with every field, so one cannot be replayed or opened by another oracle', () => {
    const variants = [
      { chainId: 1 },
      { aggregator: '0x0000000000000000000000000000000000000001' as Address },
      { configVersion: 3 },
      { roundId: 18n },
      { oracle: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC' as Address },
      { value: 123_456_789n },
      { salt: `0x${'5b'.repeat(32)}` as Hex },
    ]
    const all = new Set([
      commitmentOf(params),
      ...variants.map((v) => commitmentOf({ ...params, ...v })),
    ])
    assert.equal(all.size, variants.length + 1)
  })

  it('salts are 32 random bytes', () => {
    const a = randomSalt()
    assert.match(a, /^0x[0-9a-f]{64}$/)
    assert.notEqual(a, randomSalt())
  })

  describe('against the contract on anvil', () => {
    let chain: TestChain
    let aggregator: Address
    before(async () => {
      chain = await startTestChain()
      aggregator = await deployContract(chain.owner, {
        name: 'CommitRevealAggregator',
        abi: CommitRevealAggregatorAbi,
        bytecode: CommitRevealAggregatorBytecode,
        args: [params.aggregator, chain.owner.account.address, 8, 'ETH / USD'],
      })
    })
    after(() => chain?.stop())

    it("equal the contract's commitmentFor for random inputs, int256 extremes included", async () => {
      const chainId = await chain.owner.getChainId()
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 65_535 }),
          fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }),
          fc.uint8Array({ minLength: 20, maxLength: 20 }),
          fc.oneof(
            fc.bigInt({ min: -(2n ** 255n), max: 2n ** 255n - 1n }),
            fc.constantFrom(-(2n ** 255n), 2n ** 255n - 1n, 0n, -1n),
          ),
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          async (configVersion, roundId, oracleBytes, value, saltBytes) => {
            const oracle = `0x${bytesToHex(oracleBytes)}` as Address
            const salt = `0x${bytesToHex(saltBytes)}` as Hex
            const onChain = await chain.owner.readContract({
              address: aggregator,
              abi: CommitRevealAggregatorAbi,
              functionName: 'commitmentFor',
              args: [configVersion, roundId, oracle, value, salt],
            })
            const local = commitmentOf({
              chainId,
              aggregator,
              configVersion,
              roundId,
              oracle,
              value,
              salt,
            })
            assert.equal(local, onChain)
          },
        ),
        { numRuns: 50 },
      )
    })
  })
})
