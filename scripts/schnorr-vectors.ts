/**
 * Writes test/fixtures/schnorr-vectors.json: Schnorr signatures from fixed secrets, messages
 * and nonces, and mutations of them that must be refused. The TypeScript signer must reproduce
 * them and both verifiers (TypeScript and Solidity) must judge them as marked; rerun only when
 * the scheme changes:  node scripts/schnorr-vectors.ts
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { hexToBigInt, keccak256, toHex, zeroAddress } from 'viem'
import { publicKeyOf, Q, sign, verify } from '../src/crypto/schnorr.ts'

const h = (label: string) => hexToBigInt(keccak256(toHex(label))) % Q
const vectors: unknown[] = []
for (let i = 0; i < 8; i++) {
  const secret = h(`orakel schnorr vector secret ${i}`)
  const key = publicKeyOf(secret)
  const message = keccak256(toHex(`orakel schnorr vector message ${i}`))
  const nonce = h(`orakel schnorr vector nonce ${i}`)
  const sig = sign(secret, message, nonce)
  const base = {
    secret: toHex(secret),
    px: toHex(key.x),
    parity: key.parity,
    message,
    nonce: toHex(nonce),
    s: toHex(sig.s),
    nonceAddress: sig.nonceAddress,
  }
  vectors.push({ ...base, valid: true, case: 'valid' })
  if (i < 2) {
    const bad = [
      { case: 's + 1', s: toHex((sig.s + 1n) % Q) },
      { case: 's = 0', s: '0x0' },
      { case: 's = Q', s: toHex(Q) },
      { case: 's > Q', s: toHex(Q + (sig.s % (2n ** 256n - Q))) },
      { case: 'zero nonce address', nonceAddress: zeroAddress },
      { case: 'other message', message: keccak256(toHex(`other message ${i}`)) },
      { case: 'other parity', parity: 1 - key.parity },
      { case: 'px = 0', px: '0x0' },
      { case: 'px >= Q', px: toHex(Q + 1n) },
    ]
    for (const b of bad) {
      const v = { ...base, ...b, valid: false }
      const ok = verify(
        { x: hexToBigInt(v.px as `0x${string}`), parity: v.parity as 0 | 1 },
        v.message as `0x${string}`,
        { s: hexToBigInt(v.s as `0x${string}`), nonceAddress: v.nonceAddress as `0x${string}` },
      )
      if (ok) throw new Error(`mutation ${b.case} verified`)
      vectors.push(v)
    }
  }
}
writeFileSync(
  join(import.meta.dirname, '..', 'test', 'fixtures', 'schnorr-vectors.json'),
  `${JSON.stringify({ description: 'Schnorr over secp256k1, verifiable with one ecrecover: e = keccak256(abi.encodePacked(px, uint8 parity, message, nonceAddress)) mod Q, s = nonce + e*secret mod Q. Shared by src/crypto/schnorr.test.ts and contracts/crypto/Schnorr.test.ts.', vectors }, null, 2)}\n`,
)
console.log(vectors.length)
