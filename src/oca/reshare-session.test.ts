import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { decodeReshareMessage } from './reshare-session.ts'

const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v))
const P = `0x02${'11'.repeat(32)}`
const W = `0x${'22'.repeat(32)}`

describe('resharing wire messages', () => {
  it('decodes each kind with exactly its keys', () => {
    assert.deepEqual(
      decodeReshareMessage(
        'reshare/deal',
        enc({ commitments: [P], shareKeys: [P, P], groupKey: P }),
      ),
      { kind: 'deal', commitments: [P], shareKeys: [P, P], groupKey: P },
    )
    assert.deepEqual(decodeReshareMessage('reshare/share', enc({ share: W })), {
      kind: 'share',
      share: W,
    })
    assert.deepEqual(decodeReshareMessage('reshare/complaints', enc({ dealers: [1, 3] })), {
      kind: 'complaints',
      dealers: [1, 3],
    })
    assert.deepEqual(
      decodeReshareMessage('reshare/answers', enc({ answers: [{ accuser: 2, share: W }] })),
      {
        kind: 'answers',
        answers: [{ accuser: 2, share: W }],
      },
    )
    assert.deepEqual(
      decodeReshareMessage('reshare/digest', enc({ digest: W, proof: { commitment: P, z: W } })),
      { kind: 'digest', digest: W, proof: { commitment: P, z: W } },
    )
  })

  it('refuses malformed payloads, naming what is wrong', () => {
    const cases: [string, unknown, RegExp][] = [
      ['reshare/deal', '{not json', /not UTF-8 JSON/],
      [
        'reshare/deal',
        { commitments: [P], shareKeys: [P] },
        /expected \{commitments, shareKeys, groupKey\}/,
      ],
      [
        'reshare/deal',
        { commitments: [], shareKeys: [P], groupKey: P },
        /commitments must be 1\.\.255 points/,
      ],
      [
        'reshare/deal',
        { commitments: ['0x04'], shareKeys: [P], groupKey: P },
        /an entry of commitments is not a compressed point/,
      ],
      ['reshare/share', { share: W, extra: 1 }, /expected \{share/],
      ['reshare/share', { share: '0x12' }, /expected \{share/],
      ['reshare/complaints', { dealers: [0] }, /expected \{dealers/],
      ['reshare/complaints', { dealers: [1.5] }, /expected \{dealers/],
      ['reshare/answers', { answers: [{ accuser: 2 }] }, /an answer must be/],
      ['reshare/digest', { digest: W, proof: { commitment: P } }, /the proof must be/],
      ['reshare/other', {}, /unknown type/],
    ]
    for (const [type, payload, expected] of cases)
      assert.throws(
        () => decodeReshareMessage(type, enc(payload)),
        expected,
        `${type} ${JSON.stringify(payload)}`,
      )
    assert.throws(
      () => decodeReshareMessage('reshare/share', new Uint8Array(70 * 1024)),
      /payload over 64 KiB/,
    )
  })
})
