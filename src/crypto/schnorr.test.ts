import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { type Address, type Hex, hexToBigInt, keccak256, toHex } from 'viem'
import {
  challenge,
  isVerifiableKey,
  publicKeyOf,
  Q,
  randomSecret,
  SchnorrError,
  sign,
  verify,
} from './schnorr.ts'

type Vector = {
  case: string
  secret: Hex
  px: Hex
  parity: number
  message: Hex
  nonce: Hex
  s: Hex
  nonceAddress: Address
  valid: boolean
}

const SCHNORR_VECTORS = (
  JSON.parse(
    readFileSync(join(import.meta.dirname, '../../test/fixtures/schnorr-vectors.json'), 'utf8'),
  ) as { vectors: Vector[] }
).vectors

const keyOf = (v: Vector) => ({ x: hexToBigInt(v.px), parity: v.parity as 0 | 1 })
const sigOf = (v: Vector) => ({ s: hexToBigInt(v.s), nonceAddress: v.nonceAddress })

describe('schnorr', () => {
  it('reproduces the shared test vectors and judges each as the vectors say', () => {
    assert.ok(SCHNORR_VECTORS.filter((v) => v.valid).length >= 8)
    assert.ok(SCHNORR_VECTORS.filter((v) => !v.valid).length >= 9)
    for (const v of SCHNORR_VECTORS) {
      if (v.case === 'valid') {
        assert.deepEqual(publicKeyOf(hexToBigInt(v.secret)), keyOf(v))
        assert.deepEqual(sign(hexToBigInt(v.secret), v.message, hexToBigInt(v.nonce)), sigOf(v))
      }
      assert.equal(verify(keyOf(v), v.message, sigOf(v)), v.valid, v.case)
    }
  })

  it('signatures verify; any change to key, message, s or nonce address breaks them', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: Q - 1n }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.bigInt({ min: 1n, max: Q - 1n }),
        fc.bigInt({ min: 1n, max: Q - 1n }),
        (secret, bytes, nonce, delta) => {
          const key = publicKeyOf(secret)
          fc.pre(isVerifiableKey(key))
          const message = toHex(bytes)
          const sig = sign(secret, message, nonce)
          assert.ok(verify(key, message, sig))
          const shifted = (sig.s + delta) % Q
          if (shifted !== 0n) assert.ok(!verify(key, message, { ...sig, s: shifted }))
          assert.ok(!verify(key, keccak256(message), sig))
          assert.ok(!verify({ ...key, parity: (1 - key.parity) as 0 | 1 }, message, sig))
          const other = publicKeyOf((secret + delta) % Q || 1n)
          fc.pre(other.x !== key.x)
          assert.ok(!verify(other, message, sig))
        },
      ),
      { numRuns: 100 },
    )
  })

  it('refuses zero and out-of-range values, and keys the verifier cannot take', () => {
    const secret = randomSecret()
    const key = publicKeyOf(secret)
    const message = keccak256(toHex('m'))
    const sig = sign(secret, message)
    assert.equal(verify(key, message, { ...sig, s: 0n }), false)
    assert.equal(verify(key, message, { ...sig, s: Q }), false)
    assert.equal(verify(key, message, { ...sig, s: sig.s + Q }), false)
    assert.equal(
      verify(key, message, { ...sig, nonceAddress: '0x0000000000000000000000000000000000000000' }),
      false,
    )
    assert.equal(verify({ x: 0n, parity: 0 }, message, sig), false)
    assert.equal(verify({ x: Q + 1n, parity: 0 }, message, sig), false)
    assert.equal(isVerifiableKey({ x: Q, parity: 0 }), false)
    assert.throws(() => sign(secret, message, 0n), SchnorrError)
    assert.throws(() => publicKeyOf(0n), SchnorrError)
    assert.throws(() => publicKeyOf(Q), SchnorrError)
    // The challenge binds the key's parity, the message and the nonce address.
    const e = challenge(key, message, sig.nonceAddress)
    assert.notEqual(
      e,
      challenge({ ...key, parity: (1 - key.parity) as 0 | 1 }, message, sig.nonceAddress),
    )
    assert.notEqual(e, challenge(key, keccak256(message), sig.nonceAddress))
  })
})
