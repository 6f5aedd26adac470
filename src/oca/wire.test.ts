import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type Hex, keccak256, toHex } from 'viem'
import type { OcaMessage } from './node.ts'
import {
  type DkgMessage,
  decodeDkgMessage,
  decodeOcaMessage,
  encodeDkgMessage,
  encodeOcaMessage,
  MAX_OCA_PAYLOAD_BYTES,
  OcaWireError,
  type WireMessage,
} from './wire.ts'

const h32 = (s: string) => keccak256(toHex(s))
const SIG = `0x${'ab'.repeat(65)}` as Hex
const POINT = `0x02${'cd'.repeat(32)}` as Hex
const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v))
const wire = (type: string, payload: unknown, round = 7n): WireMessage => ({
  round,
  type,
  payload: payload instanceof Uint8Array ? payload : enc(payload),
})

const MESSAGES: OcaMessage[] = [
  {
    type: 'observe',
    round: 7,
    view: 0,
    from: 2,
    observation: { index: 2, value: -(2n ** 191n), signature: SIG },
  },
  {
    type: 'propose',
    round: 7,
    view: 3,
    from: 2,
    observations: [
      { index: 1, value: 2n ** 191n - 1n, signature: SIG },
      { index: 2, value: 0n, signature: SIG },
      { index: 4, value: 300012345678n, signature: SIG },
    ],
  },
  { type: 'commit', round: 7, view: 1, from: 2, message: h32('m'), commitment: h32('c') },
  { type: 'prepared', round: 7, view: 1, from: 2, message: h32('m'), commitments: h32('cs') },
  { type: 'reveal', round: 7, view: 1, from: 2, message: h32('m'), sigma: h32('sigma') },
]

/** Asserts that decoding throws OcaWireError whose message or details match `reason`. */
function refused(fn: () => unknown, reason: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof OcaWireError, String(err))
    assert.match(`${err.shortMessage} ${err.details ?? ''}`, reason)
    return true
  })
}

describe('OCA wire format', () => {
  it('round-trips every message; sender and round come from the envelope', () => {
    for (const m of MESSAGES) {
      const w = encodeOcaMessage(m)
      assert.equal(w.type, `oca/${m.type}`)
      assert.equal(w.round, 7n)
      const text = new TextDecoder().decode(w.payload)
      assert.ok(!text.includes('"from"') && !text.includes('"round"'), text)
      assert.deepEqual(decodeOcaMessage(w, 2, 4), m)
      assert.equal(decodeOcaMessage(w, 3, 4).from, 3, 'the envelope sender counts')
    }
  })

  it('refuses malformed payloads with the reason', () => {
    const commit = { view: 0, message: h32('m'), commitment: h32('c') }
    refused(() => decodeOcaMessage(wire('oca/vote', commit), 1, 4), /unknown OCA message type/)
    refused(() => decodeOcaMessage(wire('oca/commit', commit, 0n), 1, 4), /round/)
    refused(() => decodeOcaMessage(wire('oca/commit', commit, 2n ** 32n), 1, 4), /round/)
    refused(
      () => decodeOcaMessage(wire('oca/commit', Uint8Array.of(0xff, 0xfe)), 1, 4),
      /not UTF-8/,
    )
    refused(() => decodeOcaMessage(wire('oca/commit', '{"view":'), 1, 4), /not JSON/)
    refused(() => decodeOcaMessage(wire('oca/commit', [commit]), 1, 4), /malformed commit/)
    refused(
      () => decodeOcaMessage(wire('oca/commit', { ...commit, extra: 1 }), 1, 4),
      /malformed commit/,
    )
    refused(() => decodeOcaMessage(wire('oca/commit', { ...commit, view: -1 }), 1, 4), /view/)
    refused(() => decodeOcaMessage(wire('oca/commit', { ...commit, view: 1.5 }), 1, 4), /view/)
    refused(
      () => decodeOcaMessage(wire('oca/commit', { ...commit, message: '0x1234' }), 1, 4),
      /message: expected 32 bytes/,
    )
    refused(
      () => decodeOcaMessage(wire('oca/reveal', { view: 0, message: h32('m') }), 1, 4),
      /sigma/,
    )
    const obs = { index: 1, value: '0x10', signature: SIG }
    refused(
      () =>
        decodeOcaMessage(
          wire('oca/observe', { view: 0, observation: { ...obs, value: `0x${'f'.repeat(48)}` } }),
          1,
          4,
        ),
      /int192/,
    )
    refused(
      () =>
        decodeOcaMessage(
          wire('oca/observe', { view: 0, observation: { ...obs, value: 16 } }),
          1,
          4,
        ),
      /value/,
    )
    refused(
      () =>
        decodeOcaMessage(wire('oca/observe', { view: 0, observation: { ...obs, index: 5 } }), 1, 4),
      /index 5 > 4/,
    )
    refused(
      () => decodeOcaMessage(wire('oca/propose', { view: 0, observations: [] }), 1, 4),
      /observations/,
    )
    refused(
      () =>
        decodeOcaMessage(
          wire('oca/observe', { view: 0, observation: { ...obs, signature: '0x12' } }),
          1,
          4,
        ),
      /signature/,
    )
    refused(
      () => decodeOcaMessage(wire('oca/commit', new Uint8Array(MAX_OCA_PAYLOAD_BYTES + 1)), 1, 4),
      /too large/,
    )
  })
})

describe('DKG wire format', () => {
  const messages: DkgMessage[] = [
    {
      kind: 'deal',
      session: 'nonces/3',
      deals: [{ commitments: [POINT, POINT], proof: { commitment: POINT, z: h32('z') } }],
    },
    { kind: 'share', session: 'nonces/3', shares: [h32('s1'), h32('s2')] },
    { kind: 'complaints', session: 'nonces/3', complaints: [{ instance: 1, dealer: 4 }] },
    { kind: 'complaints', session: 'key', complaints: [] },
    { kind: 'answers', session: 'key', answers: [{ instance: 0, accuser: 2, share: h32('a') }] },
    { kind: 'digest', session: 'key', digest: h32('d'), proof: { commitment: POINT, z: h32('z') } },
    { kind: 'digest', session: 'nonces/3', digest: h32('d') },
  ]

  it('round-trips every message', () => {
    for (const m of messages) {
      const w = encodeDkgMessage(m, 3n)
      assert.equal(w.type, `dkg/${m.kind}`)
      assert.deepEqual(decodeDkgMessage(w), m)
    }
  })

  it('refuses malformed payloads with the reason', () => {
    refused(() => decodeDkgMessage(wire('dkg/vote', { session: 'key' })), /unknown DKG/)
    refused(
      () => decodeDkgMessage(wire('dkg/share', { session: 'KEY!', shares: [h32('s')] })),
      /session/,
    )
    refused(
      () =>
        decodeDkgMessage(
          wire('dkg/complaints', { session: 'key', complaints: [{ instance: 256, dealer: 1 }] }),
        ),
      /instance/,
    )
    refused(
      () =>
        decodeDkgMessage(
          wire('dkg/deal', {
            session: 'key',
            deals: [
              {
                commitments: [`0x04${'cd'.repeat(32)}`],
                proof: { commitment: POINT, z: h32('z') },
              },
            ],
          }),
        ),
      /compressed point/,
    )
    refused(() => decodeDkgMessage(wire('dkg/share', { session: 'key', shares: [] })), /shares/)
    refused(
      () => decodeDkgMessage(wire('dkg/digest', { session: 'key', digest: h32('d') }), 10),
      /too large/,
    )
  })
})
