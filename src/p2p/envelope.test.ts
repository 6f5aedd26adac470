import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { privateKeyToAddress } from 'viem/accounts'
import {
  decodeEnvelope,
  ENVELOPE_OVERHEAD,
  encodeEnvelope,
  signEnvelope,
  signingBytes,
  verifyEnvelope,
} from './envelope.ts'
import { P2pError, P2pFrameError } from './errors.ts'
import { p2pKeyFromSeed, signingKeyObject, verifyingKeyObject } from './keys.ts'

const key = await p2pKeyFromSeed(new Uint8Array(32).fill(1))
const other = await p2pKeyFromSeed(new Uint8Array(32).fill(2))
const signing = signingKeyObject(key)
const verifying = verifyingKeyObject(key.publicKey)
const from = privateKeyToAddress(`0x${'11'.repeat(32)}`)
const digest = `0x${'ab'.repeat(32)}` as const
const unsigned = {
  configDigest: digest,
  round: 42n,
  type: 'oca/commit',
  payload: new TextEncoder().encode('{"x":1}'),
  from,
}

describe('envelope', () => {
  test('encodes, decodes and verifies', () => {
    const env = signEnvelope(signing, unsigned)
    const bytes = encodeEnvelope(env)
    assert.equal(bytes.length, ENVELOPE_OVERHEAD + unsigned.type.length + unsigned.payload.length)
    const back = decodeEnvelope(bytes)
    assert.deepEqual(back, env)
    assert.ok(verifyEnvelope(verifying, back))
  })

  test('signing bytes are domain separated and bind every field', () => {
    const base = signingBytes(unsigned)
    assert.equal(new TextDecoder().decode(base.subarray(0, 13)), 'orakel/p2p/v1')
    const variants = [
      { ...unsigned, configDigest: `0x${'ac'.repeat(32)}` as const },
      { ...unsigned, round: 43n },
      { ...unsigned, type: 'oca/reveal' },
      { ...unsigned, payload: new TextEncoder().encode('{"x":2}') },
      { ...unsigned, from: privateKeyToAddress(`0x${'22'.repeat(32)}`) },
    ]
    for (const v of variants) assert.notDeepEqual(signingBytes(v), base)
    const env = signEnvelope(signing, unsigned)
    for (const v of variants)
      assert.equal(verifyEnvelope(verifying, { ...v, signature: env.signature }), false)
  })

  test('another key, or a flipped bit, does not verify', () => {
    const env = signEnvelope(signingKeyObject(other), unsigned)
    assert.equal(verifyEnvelope(verifying, env), false)
    const good = signEnvelope(signing, unsigned)
    const sig = good.signature.slice()
    sig[10]! ^= 1
    assert.equal(verifyEnvelope(verifying, { ...good, signature: sig }), false)
    assert.equal(verifyEnvelope(verifying, { ...good, signature: sig.subarray(0, 63) }), false)
  })

  test('refuses bad message fields', () => {
    assert.throws(() => signEnvelope(signing, { ...unsigned, round: -1n }), P2pError)
    assert.throws(() => signEnvelope(signing, { ...unsigned, round: 2n ** 64n }), P2pError)
    assert.throws(() => signEnvelope(signing, { ...unsigned, type: '' }), P2pError)
    assert.throws(() => signEnvelope(signing, { ...unsigned, type: 'a b' }), P2pError)
    assert.throws(() => signEnvelope(signing, { ...unsigned, type: 'x'.repeat(65) }), P2pError)
    assert.throws(() => signEnvelope(signing, { ...unsigned, configDigest: '0x12' }), P2pError)
  })

  test('malformed bytes are P2pFrameErrors', () => {
    const bytes = encodeEnvelope(signEnvelope(signing, unsigned))
    const cases: Uint8Array[] = [
      new Uint8Array(0),
      bytes.subarray(0, 50),
      bytes.subarray(0, bytes.length - 1),
      new Uint8Array([...bytes, 0]),
      (() => {
        const b = bytes.slice()
        b[0] = 2 // version
        return b
      })(),
      (() => {
        const b = bytes.slice()
        b[1 + 32 + 8 + 20 + 1] = 0x20 // a space in the type
        return b
      })(),
      (() => {
        const b = bytes.slice()
        b[1 + 32 + 8 + 20] = 255 // type length past the end
        return b
      })(),
    ]
    for (const c of cases) assert.throws(() => decodeEnvelope(c), P2pFrameError)
  })
})
