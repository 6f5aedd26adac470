/**
 * The committee message envelope: what one oracle sends another, signed by the sender's libp2p
 * (Ed25519) key. Layout and signing are specified in docs/protocol/p2p.md.
 *
 * Wire (all integers big-endian):
 *   version u8 (= 1) ‖ configDigest [32] ‖ round u64 ‖ from [20] ‖ typeLength u8 ‖ type (ASCII)
 *   ‖ payloadLength u32 ‖ payload ‖ signature [64]
 * Signed bytes:
 *   "orakel/p2p/v1" ‖ configDigest [32] ‖ round u64 ‖ from [20] ‖ typeLength u8 ‖ type
 *   ‖ sha256(payload) [32]
 */
import { createHash, type KeyObject, sign, verify } from 'node:crypto'
import { type Address, bytesToHex, getAddress, type Hex, hexToBytes, isAddress, isHex } from 'viem'
import { P2pError, P2pFrameError } from './errors.ts'

export const ENVELOPE_VERSION = 1
export const SIGNING_DOMAIN = 'orakel/p2p/v1'
const DOMAIN_BYTES = new TextEncoder().encode(SIGNING_DOMAIN)
const SIGNATURE_BYTES = 64
/** Bytes of an envelope besides its type and payload. */
export const ENVELOPE_OVERHEAD = 1 + 32 + 8 + 20 + 1 + 4 + SIGNATURE_BYTES
const MAX_ROUND = 2n ** 64n - 1n
const TYPE_PATTERN = /^[A-Za-z0-9_.:/-]{1,64}$/

/** What a protocol hands the host to send. */
export type OutboundMessage = {
  /** The protocol round (u64). */
  round: bigint
  /** The message kind, 1–64 characters of `A-Z a-z 0-9 _ . : / -` (e.g. `oca/commit`). */
  type: string
  payload: Uint8Array
}

/** What the host delivers to a protocol, after verification. */
export type InboundMessage = {
  /** The sender's on-chain oracle address (checksummed). */
  from: Address
  round: bigint
  type: string
  payload: Uint8Array
}

export type UnsignedEnvelope = OutboundMessage & { configDigest: Hex; from: Address }
export type Envelope = UnsignedEnvelope & { signature: Uint8Array }

/** Throws a `P2pError` naming the field if a message cannot be put in an envelope. */
export function checkMessage(msg: OutboundMessage): void {
  if (typeof msg.round !== 'bigint' || msg.round < 0n || msg.round > MAX_ROUND)
    throw new P2pError('Message round must be a u64 bigint', { details: String(msg.round) })
  if (typeof msg.type !== 'string' || !TYPE_PATTERN.test(msg.type))
    throw new P2pError('Message type must be 1–64 characters of A-Z a-z 0-9 _ . : / -', {
      details: JSON.stringify(msg.type),
    })
  if (!(msg.payload instanceof Uint8Array))
    throw new P2pError('Message payload must be a Uint8Array')
}

export function isConfigDigest(value: unknown): value is Hex {
  return typeof value === 'string' && isHex(value, { strict: true }) && value.length === 66
}

/**
 * Writes digest ‖ round ‖ sender ‖ type length ‖ type at `at` (the part both the signed bytes
 * and the wire encoding share); returns the offset after it.
 */
function writeHeader(out: Uint8Array, at: number, env: UnsignedEnvelope, type: Uint8Array): number {
  out.set(hexToBytes(env.configDigest), at)
  at += 32
  new DataView(out.buffer, out.byteOffset).setBigUint64(at, env.round)
  at += 8
  out.set(hexToBytes(env.from), at)
  at += 20
  out[at++] = type.length
  out.set(type, at)
  return at + type.length
}

/** The bytes the sender signs (see the module comment). */
export function signingBytes(env: UnsignedEnvelope): Uint8Array {
  const type = new TextEncoder().encode(env.type)
  const out = new Uint8Array(DOMAIN_BYTES.length + 32 + 8 + 20 + 1 + type.length + 32)
  out.set(DOMAIN_BYTES, 0)
  const at = writeHeader(out, DOMAIN_BYTES.length, env, type)
  out.set(createHash('sha256').update(env.payload).digest(), at)
  return out
}

/** Signs an envelope with the sender's Ed25519 key (a node:crypto `KeyObject`). */
export function signEnvelope(key: KeyObject, env: UnsignedEnvelope): Envelope {
  checkMessage(env)
  if (!isConfigDigest(env.configDigest))
    throw new P2pError('Config digest must be 32 bytes of hex', { details: env.configDigest })
  if (!isAddress(env.from, { strict: false }))
    throw new P2pError('Sender must be an address', { details: env.from })
  const signature = new Uint8Array(sign(null, signingBytes(env), key))
  return { ...env, signature }
}

/** Whether `env.signature` is the signature of `key`'s owner over the envelope. */
export function verifyEnvelope(key: KeyObject, env: Envelope): boolean {
  if (env.signature.length !== SIGNATURE_BYTES) return false
  try {
    return verify(null, signingBytes(env), key, env.signature)
  } catch {
    return false
  }
}

export function encodeEnvelope(env: Envelope): Uint8Array {
  const type = new TextEncoder().encode(env.type)
  const out = new Uint8Array(ENVELOPE_OVERHEAD + type.length + env.payload.length)
  const view = new DataView(out.buffer)
  out[0] = ENVELOPE_VERSION
  let at = writeHeader(out, 1, env, type)
  view.setUint32(at, env.payload.length)
  at += 4
  out.set(env.payload, at)
  at += env.payload.length
  out.set(env.signature, at)
  return out
}

/** Parses an envelope; throws `P2pFrameError` with the reason if the bytes are not one. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  const fail = (reason: string): never => {
    throw new P2pFrameError('Malformed envelope', { details: reason })
  }
  if (bytes.length < ENVELOPE_OVERHEAD + 1) fail(`${bytes.length} bytes is too short`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let at = 0
  const version = bytes[at++]
  if (version !== ENVELOPE_VERSION) fail(`unknown version ${version}`)
  const configDigest = bytesToHex(bytes.subarray(at, at + 32))
  at += 32
  const round = view.getBigUint64(at)
  at += 8
  const from = getAddress(bytesToHex(bytes.subarray(at, at + 20)))
  at += 20
  const typeLength = bytes[at++]!
  if (typeLength === 0 || bytes.length < ENVELOPE_OVERHEAD + typeLength)
    fail(`type length ${typeLength} does not fit`)
  const type = new TextDecoder('ascii', { fatal: false }).decode(
    bytes.subarray(at, at + typeLength),
  )
  if (!TYPE_PATTERN.test(type)) fail('type has characters outside A-Z a-z 0-9 _ . : / -')
  at += typeLength
  const payloadLength = view.getUint32(at)
  at += 4
  if (bytes.length !== ENVELOPE_OVERHEAD + typeLength + payloadLength)
    fail(`payload length ${payloadLength} does not match the ${bytes.length}-byte envelope`)
  // Copies, so a delivered payload does not keep the whole receive buffer alive.
  const payload = bytes.slice(at, at + payloadLength)
  at += payloadLength
  const signature = bytes.slice(at, at + SIGNATURE_BYTES)
  return { configDigest, round, from, type, payload, signature }
}
