import assert from 'node:assert/strict'
import { sign, verify } from 'node:crypto'
import { describe, test } from 'node:test'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { P2pError } from './errors.ts'
import {
  generateP2pKey,
  p2pKeyFromBytes,
  p2pKeyFromSeed,
  p2pKeyToBytes,
  peerIdOf,
  publicKeyOfPeerId,
  signingKeyObject,
  verifyingKeyObject,
} from './keys.ts'

describe('p2p keys', () => {
  test('round-trip through bytes keeps the key and its peer id', async () => {
    const key = await generateP2pKey()
    const bytes = p2pKeyToBytes(key)
    assert.equal(bytes.length, 68)
    const back = p2pKeyFromBytes(bytes)
    assert.ok(back.equals(key))
    assert.equal(peerIdOf(back), peerIdOf(key))
    assert.match(peerIdOf(key), /^12D3KooW/)
  })

  test('a seed gives the same key every time', async () => {
    const seed = new Uint8Array(32).fill(7)
    assert.equal(peerIdOf(await p2pKeyFromSeed(seed)), peerIdOf(await p2pKeyFromSeed(seed)))
    assert.throws(() => p2pKeyFromSeed(new Uint8Array(31)), P2pError)
  })

  test('refuses garbage and non-Ed25519 keys', async () => {
    assert.throws(() => p2pKeyFromBytes(new Uint8Array([1, 2, 3])), P2pError)
    const secp = await generateKeyPair('secp256k1')
    assert.throws(() => p2pKeyFromBytes(privateKeyToProtobuf(secp)), /must be Ed25519/)
  })

  test('the public key in a peer id verifies what the key signs', async () => {
    const key = await generateP2pKey()
    const publicKey = publicKeyOfPeerId(peerIdOf(key))
    assert.ok(publicKey.equals(key.publicKey))
    const data = new TextEncoder().encode('hello')
    const signature = sign(null, data, signingKeyObject(key))
    // Same signature as libp2p's own signer (Ed25519 is deterministic).
    assert.deepEqual(new Uint8Array(signature), new Uint8Array(await key.sign(data)))
    assert.ok(verify(null, data, verifyingKeyObject(publicKey), signature))
  })

  test('refuses peer ids that are not Ed25519 or not peer ids', async () => {
    const secp = await generateKeyPair('secp256k1')
    assert.throws(() => publicKeyOfPeerId(peerIdFromPrivateKey(secp).toString()), /Ed25519/)
    assert.throws(() => publicKeyOfPeerId('not-a-peer-id'), P2pError)
  })
})
