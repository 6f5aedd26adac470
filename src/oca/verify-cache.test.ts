import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { secp256k1 } from '@noble/curves/secp256k1'
import { type Hex, keccak256, toHex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { parsePoint, pointHex } from '../crypto/dkg.ts'
import { signedBy, tabledPoint } from './verify-cache.ts'

describe('verify cache', () => {
  it('decides every signature as recovery does, before and after the key is kept', async () => {
    const a = privateKeyToAccount(generatePrivateKey())
    const b = privateKeyToAccount(generatePrivateKey())
    for (let i = 0; i < 40; i++) {
      const digest = keccak256(toHex(`digest ${i}`))
      const sig = await a.signMessage({ message: { raw: digest } })
      assert.equal(await signedBy(digest, sig, a.address), true, `round ${i}`)
      assert.equal(await signedBy(digest, sig, b.address), false)
      assert.equal(await signedBy(keccak256(toHex(`other ${i}`)), sig, a.address), false)
      // The other parity (v 27 ↔ 28) recovers another key.
      const v = Number.parseInt(sig.slice(130), 16)
      const flipped = `${sig.slice(0, 130)}${(v === 27 ? 28 : 27).toString(16)}` as Hex
      assert.equal(await signedBy(digest, flipped, a.address), false)
      // v as 0/1 is accepted like viem does.
      const raw = `${sig.slice(0, 130)}0${v - 27}` as Hex
      assert.equal(await signedBy(digest, raw, a.address), true)
      // Mutated s, r, a bad v, zero r and a short signature.
      const s = BigInt(`0x${sig.slice(66, 130)}`)
      const mutS =
        `${sig.slice(0, 66)}${toHex(s ^ 1n, { size: 32 }).slice(2)}${sig.slice(130)}` as Hex
      assert.equal(await signedBy(digest, mutS, a.address), false)
      assert.equal(await signedBy(digest, `${sig.slice(0, 130)}1d` as Hex, a.address), false)
      assert.equal(
        await signedBy(digest, `0x${'00'.repeat(32)}${sig.slice(66)}` as Hex, a.address),
        false,
      )
      assert.equal(await signedBy(digest, sig.slice(0, 128) as Hex, a.address), false)
    }
  })

  it('tables give the same products', () => {
    const hex = pointHex(secp256k1.ProjectivePoint.BASE.multiply(987654321n))
    const tabled = tabledPoint(hex)
    assert.equal(tabledPoint(hex), tabled)
    for (let i = 1n; i < 20n; i++) {
      const k = BigInt(keccak256(toHex(`k${i}`))) % secp256k1.CURVE.n
      assert.ok(tabled.multiply(k).equals(parsePoint(hex).multiply(k)))
    }
  })
})
