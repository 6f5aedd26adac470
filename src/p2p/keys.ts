/**
 * The node's libp2p identity: an Ed25519 key. Its peer id (derived from the public key) is what
 * an oracle registers on chain; peers accept a connection only from the peer id registered for
 * a committee member, and check message signatures against the public key inside that peer id.
 *
 * Keys are (de)serialised in libp2p's protobuf encoding (the format `@libp2p/crypto` and every
 * libp2p implementation read), so the node can keep the bytes encrypted at rest.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import {
  generateKeyPair,
  generateKeyPairFromSeed,
  privateKeyFromProtobuf,
  privateKeyToProtobuf,
} from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey, Ed25519PublicKey } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { P2pError } from './errors.ts'

export type { Ed25519PrivateKey }

/** A fresh random Ed25519 libp2p key. */
export function generateP2pKey(): Promise<Ed25519PrivateKey> {
  return generateKeyPair('Ed25519')
}

/** A deterministic key from a 32-byte seed (tests, or keys derived elsewhere). */
export function p2pKeyFromSeed(seed: Uint8Array): Promise<Ed25519PrivateKey> {
  if (seed.length !== 32)
    throw new P2pError('An Ed25519 seed must be 32 bytes', {
      details: `got ${seed.length} bytes`,
    })
  return generateKeyPairFromSeed('Ed25519', seed)
}

/** The key in libp2p's protobuf encoding (68 bytes for Ed25519). Secret: store it encrypted. */
export function p2pKeyToBytes(key: Ed25519PrivateKey): Uint8Array {
  return privateKeyToProtobuf(key)
}

/** Reads a key written by `p2pKeyToBytes` (or any libp2p implementation); Ed25519 only. */
export function p2pKeyFromBytes(bytes: Uint8Array): Ed25519PrivateKey {
  let key: ReturnType<typeof privateKeyFromProtobuf>
  try {
    key = privateKeyFromProtobuf(bytes)
  } catch {
    // The cause may quote key bytes; keep it out of the message.
    throw new P2pError('Not a libp2p private key', { details: 'protobuf decoding failed' })
  }
  if (key.type !== 'Ed25519')
    throw new P2pError('The libp2p key must be Ed25519', { details: `got a ${key.type} key` })
  return key
}

/** The peer id (base58btc, `12D3KooW…`) of a key. */
export function peerIdOf(key: Ed25519PrivateKey): string {
  return peerIdFromPrivateKey(key).toString()
}

/** The Ed25519 public key inside a peer id string; refuses other key types. */
export function publicKeyOfPeerId(peerId: string): Ed25519PublicKey {
  let parsed: ReturnType<typeof peerIdFromString>
  try {
    parsed = peerIdFromString(peerId)
  } catch (err) {
    throw new P2pError('Not a libp2p peer id', { details: peerId, cause: err })
  }
  if (parsed.type !== 'Ed25519' || !parsed.publicKey)
    throw new P2pError('Committee peer ids must be Ed25519 peer ids', {
      details: `${peerId} is a ${parsed.type} peer id`,
    })
  return parsed.publicKey
}

/** A node:crypto signing key for an Ed25519 libp2p key (built once, used for every message). */
export function signingKeyObject(key: Ed25519PrivateKey): KeyObject {
  return createPrivateKey({
    format: 'jwk',
    key: {
      kty: 'OKP',
      crv: 'Ed25519',
      d: Buffer.from(key.raw.subarray(0, 32)).toString('base64url'),
      x: Buffer.from(key.publicKey.raw).toString('base64url'),
    },
  })
}

/** A node:crypto verifying key for an Ed25519 public key. */
export function verifyingKeyObject(key: Ed25519PublicKey): KeyObject {
  return createPublicKey({
    format: 'jwk',
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(key.raw).toString('base64url') },
  })
}
