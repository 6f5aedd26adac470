import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type Hex, keccak256, toHex } from 'viem'
import { pointHex, verifyShareKeyProof } from './dkg.ts'
import { runDkg } from './dkg-testing.ts'
import {
  createReshareReceiver,
  dealReshare,
  type ReshareAnswer,
  type ReshareParameters,
  type ReshareResult,
} from './reshare.ts'
import { toPublicKey, verify } from './schnorr.ts'
import { combine, partialSign, thresholdChallenge } from './threshold.ts'

const OLD_CONTEXT = keccak256(toHex('reshare test: old committee'))
const NEW_CONTEXT = keccak256(toHex('reshare test: new committee'))

type Fault =
  | { kind: 'silent' }
  | { kind: 'badShare'; to: number; answer: 'correct' | 'wrong' | 'none' }
  | { kind: 'wrongSecret' }

/** An old committee (DKG) and its shares reshared to a new committee, every message delivered. */
function reshare(
  old: { n: number; t: number },
  next: { n: number; t: number },
  faults: Map<number, Fault> = new Map(),
  dealers: number[] = [...Array(old.n).keys()].map((i) => i + 1),
) {
  const dkg = runDkg(old.n, old.t, OLD_CONTEXT)
  const first = dkg.results.get(1)!
  const params: ReshareParameters = {
    oldShareKeys: first.shareKeys,
    oldT: old.t,
    groupKey: pointHex(first.groupKey),
    newN: next.n,
    newT: next.t,
    context: NEW_CONTEXT,
  }
  const receivers = Array.from({ length: next.n }, (_, j) =>
    createReshareReceiver({ ...params, index: j + 1 }),
  )
  const answers: ReshareAnswer[] = []
  const dealt = new Map<number, Hex[]>()
  for (const dealer of dealers) {
    const fault = faults.get(dealer)
    if (fault?.kind === 'silent') continue
    const share = dkg.results.get(dealer)!.secretShare
    const { deal, shares } = dealReshare(params, dealer, share)
    dealt.set(dealer, shares)
    // A dealer dealing another secret than its share: here another member's share key as D_0.
    if (fault?.kind === 'wrongSecret') deal.commitments[0] = first.shareKeys[dealer % old.n]!
    for (const r of receivers) {
      r.receiveDeal(deal)
      let s = shares[r.index - 1]!
      if (fault?.kind === 'badShare' && fault.to === r.index)
        s = toHex(BigInt(s) ^ 1n, { size: 32 })
      r.receiveShare(dealer, s)
    }
  }
  const complaints = receivers.flatMap((r) => r.complaints())
  for (const c of complaints) for (const r of receivers) r.receiveComplaint(c)
  for (const c of complaints) {
    const fault = faults.get(c.dealer)
    if (fault?.kind === 'badShare' && fault.answer === 'none') continue
    let share = dealt.get(c.dealer)![c.accuser - 1]!
    if (fault?.kind === 'badShare' && fault.answer === 'wrong')
      share = toHex(BigInt(share) ^ 2n, { size: 32 })
    answers.push({ dealer: c.dealer, accuser: c.accuser, share })
  }
  for (const a of answers) for (const r of receivers) r.receiveAnswer(a)
  return { dkg, params, receivers, complaints }
}

/** t' new members sign `message` with a fresh nonce DKG of the new committee. */
function signWithNew(
  results: Map<number, ReshareResult>,
  next: { n: number; t: number },
  signers: number[],
  message: Hex,
) {
  const groupKey = results.get(signers[0]!)!.groupKey
  const nonce = runDkg(next.n, next.t, keccak256(toHex(`nonce ${message}`)))
  const { e, nonceAddress } = thresholdChallenge(groupKey, message, nonce.results.get(1)!.groupKey)
  const partials = signers.map((i) => ({
    index: i,
    sigma: partialSign(results.get(i)!.secretShare, nonce.results.get(i)!.secretShare, e),
  }))
  return combine(partials, next.t, nonceAddress)
}

describe('resharing the group key to a new committee', () => {
  for (const [old, next] of [
    [
      { n: 4, t: 2 },
      { n: 7, t: 3 },
    ],
    [
      { n: 7, t: 3 },
      { n: 4, t: 2 },
    ],
    [
      { n: 4, t: 2 },
      { n: 4, t: 2 },
    ],
  ] as const) {
    it(`keeps Y from n=${old.n}/t=${old.t} to n=${next.n}/t=${next.t}; the new shares sign under it`, () => {
      const { dkg, receivers } = reshare(old, next)
      const results = new Map(receivers.map((r) => [r.index, r.finish()]))
      const Y = dkg.results.get(1)!.groupKey
      for (const [j, r] of results) {
        assert.ok(r.groupKey.equals(Y), 'the group key did not change')
        assert.deepEqual(
          r.shareKeys,
          results.get(1)!.shareKeys,
          'every new member derives the same share keys',
        )
        assert.ok(verifyShareKeyProof(r.shareKeys[j - 1]!, r.shareProof, NEW_CONTEXT, j))
      }
      const message = keccak256(toHex(`report ${old.n}→${next.n}`))
      // Any t' of the new members sign; the signature verifies under the unchanged key.
      const signers = [...Array(next.t).keys()].map((i) => next.n - i)
      const sig = signWithNew(results, next, signers, message)
      assert.ok(verify(toPublicKey(Y), message, sig))
      // Fewer than t' new shares do not suffice (t'−1 partials refuse to combine).
      assert.throws(
        () => signWithNew(results, next, signers.slice(1), message),
        /partial signatures/,
      )
    })
  }

  it('needs only t old dealers: the others may be silent', () => {
    const { receivers } = reshare(
      { n: 4, t: 2 },
      { n: 4, t: 2 },
      new Map([
        [2, { kind: 'silent' }],
        [4, { kind: 'silent' }],
      ]),
    )
    for (const r of receivers) assert.deepEqual(r.finish().qualified, [1, 3])
  })

  it('refuses a dealer dealing anything but its own share (D_0 ≠ Y_i), and finishes without it', () => {
    const { receivers } = reshare(
      { n: 4, t: 2 },
      { n: 4, t: 2 },
      new Map([[3, { kind: 'wrongSecret' }]]),
    )
    for (const r of receivers) {
      assert.match(r.disqualified().get(3) ?? '', /dealt another secret than its share/)
      assert.deepEqual(r.finish().qualified, [1, 2, 4])
    }
    // And a dealer cannot even produce a deal for a share that is not its own.
    const dkg = runDkg(4, 2, OLD_CONTEXT)
    const first = dkg.results.get(1)!
    assert.throws(
      () =>
        dealReshare(
          {
            oldShareKeys: first.shareKeys,
            oldT: 2,
            groupKey: pointHex(first.groupKey),
            newN: 4,
            newT: 2,
            context: NEW_CONTEXT,
          },
          2,
          dkg.results.get(3)!.secretShare,
        ),
      /is not the one of its share key/,
    )
  })

  it('a bad private share: a correct public answer keeps the dealer; none or a wrong one disqualifies it', () => {
    const kept = reshare(
      { n: 4, t: 2 },
      { n: 4, t: 2 },
      new Map([[1, { kind: 'badShare', to: 3, answer: 'correct' }]]),
    )
    assert.deepEqual(kept.complaints, [{ accuser: 3, dealer: 1 }])
    for (const r of kept.receivers) assert.deepEqual(r.finish().qualified, [1, 2, 3, 4])
    for (const answer of ['none', 'wrong'] as const) {
      const out = reshare(
        { n: 4, t: 2 },
        { n: 4, t: 2 },
        new Map([[1, { kind: 'badShare', to: 3, answer }]]),
      )
      for (const r of out.receivers) {
        assert.match(r.disqualified().get(1) ?? '', /did not answer the complaint of 3/)
        assert.deepEqual(r.finish().qualified, [2, 3, 4])
      }
    }
  })

  it('fails, naming why, with fewer than t valid dealers', () => {
    const { receivers } = reshare(
      { n: 4, t: 2 },
      { n: 4, t: 2 },
      new Map<number, Fault>([
        [2, { kind: 'silent' }],
        [3, { kind: 'silent' }],
        [4, { kind: 'wrongSecret' }],
      ]),
    )
    assert.throws(
      () => receivers[0]!.finish(),
      /only 1 old members dealt valid shares; 2 are needed/,
    )
  })
})
