/**
 * The Solidity verifier (contracts/crypto/Schnorr.sol) against the TypeScript signer and
 * verifier (src/crypto/schnorr.ts): the shared test vectors, and a differential fuzz test over
 * random keys, messages and mutations, on a real anvil.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { type Address, type Hex, hexToBigInt, keccak256, toHex } from 'viem'
import { SchnorrHarnessAbi, SchnorrHarnessBytecode } from '../../artifacts/abis.ts'
import { deployContract, startTestChain, type TestChain } from '../../src/chain/testing.ts'
import { runDkg } from '../../src/crypto/dkg-testing.ts'
import {
  challenge,
  publicKeyOf,
  Q,
  type SchnorrPublicKey,
  type SchnorrSignature,
  sign,
  toPublicKey,
  verify,
} from '../../src/crypto/schnorr.ts'
import { combine, partialSign, thresholdChallenge } from '../../src/crypto/threshold.ts'

type Vector = {
  case: string
  px: Hex
  parity: number
  message: Hex
  s: Hex
  nonceAddress: Address
  valid: boolean
}
const VECTORS = (
  JSON.parse(
    readFileSync(join(import.meta.dirname, '../../test/fixtures/schnorr-vectors.json'), 'utf8'),
  ) as { vectors: Vector[] }
).vectors

describe('Schnorr verifier (one ecrecover)', () => {
  let chain: TestChain
  let harness: Address
  before(async () => {
    chain = await startTestChain()
    harness = await deployContract(chain.owner, {
      name: 'SchnorrHarness',
      abi: SchnorrHarnessAbi,
      bytecode: SchnorrHarnessBytecode,
      args: [],
    })
  })
  after(async () => {
    await chain?.stop()
  })

  const onChain = (key: SchnorrPublicKey, message: Hex, sig: SchnorrSignature) =>
    chain.owner.readContract({
      address: harness,
      abi: SchnorrHarnessAbi,
      functionName: 'verify',
      args: [key.x, key.parity, message, sig.s, sig.nonceAddress],
    })

  it('judges every shared test vector as the TypeScript verifier does', async () => {
    for (const v of VECTORS) {
      const key = { x: hexToBigInt(v.px), parity: v.parity as 0 | 1 }
      const sig = { s: hexToBigInt(v.s), nonceAddress: v.nonceAddress }
      assert.equal(await onChain(key, v.message, sig), v.valid, v.case)
      if (v.px !== '0x0' && hexToBigInt(v.px) < Q) {
        const e = await chain.owner.readContract({
          address: harness,
          abi: SchnorrHarnessAbi,
          functionName: 'challenge',
          args: [key.x, key.parity, v.message, v.nonceAddress],
        })
        assert.equal(e, challenge(key, v.message, v.nonceAddress))
      }
    }
  })

  it('differential fuzz: contract and TypeScript agree on random signatures and mutations', async () => {
    let accepted = 0
    let refused = 0
    await fc.assert(
      fc.asyncProperty(
        fc.bigInt({ min: 1n, max: Q - 1n }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.bigInt({ min: 1n, max: Q - 1n }),
        fc.constantFrom('none', 's', 'message', 'address', 'key', 'parity', 'sZero', 'sQ'),
        fc.bigInt({ min: 1n, max: Q - 1n }),
        async (secret, bytes, nonce, mutation, delta) => {
          const key = publicKeyOf(secret)
          fc.pre(key.x < Q)
          let message = toHex(bytes)
          let sig = sign(secret, message, nonce)
          let k: SchnorrPublicKey = key
          if (mutation === 's') sig = { ...sig, s: (sig.s + delta) % Q }
          if (mutation === 'message')
            message = toHex((hexToBigInt(message) + delta) % 2n ** 256n, { size: 32 })
          if (mutation === 'address')
            sig = { ...sig, nonceAddress: toHex(delta % 2n ** 160n, { size: 20 }) }
          if (mutation === 'key') k = publicKeyOf((secret + delta) % Q || 1n)
          if (mutation === 'parity') k = { ...key, parity: (1 - key.parity) as 0 | 1 }
          if (mutation === 'sZero') sig = { ...sig, s: 0n }
          if (mutation === 'sQ') sig = { ...sig, s: Q + (sig.s % (2n ** 256n - Q)) }
          const expected = verify(k, message, sig)
          assert.equal(await onChain(k, message, sig), expected, mutation)
          if (mutation === 'none') assert.equal(expected, true)
          if (expected) accepted += 1
          else refused += 1
        },
      ),
      { numRuns: 300 },
    )
    assert.ok(accepted > 0 && refused > 0)
  })

  it('a threshold signature of a 4-member committee (DKG, 2 of 4 partials) verifies on chain', async () => {
    const context = keccak256(toHex('orakel schnorr contract test'))
    const key = runDkg(4, 2, context)
    const nonce = runDkg(4, 2, keccak256(context))
    const groupKey = key.results.get(1)!.groupKey
    const message = keccak256(toHex('report'))
    const { e, nonceAddress } = thresholdChallenge(
      groupKey,
      message,
      nonce.results.get(1)!.groupKey,
    )
    const partials = [3, 1].map((i) => ({
      index: i,
      sigma: partialSign(key.results.get(i)!.secretShare, nonce.results.get(i)!.secretShare, e),
    }))
    const sig = combine(partials, 2, nonceAddress)
    assert.equal(await onChain(toPublicKey(groupKey), message, sig), true)
    assert.equal(await onChain(toPublicKey(groupKey), keccak256(message), sig), false)
  })
})
