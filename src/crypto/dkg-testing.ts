import { encodePacked, type Hex, keccak256 } from 'viem'
import { type Complaint, createDkgParticipant, type DkgParticipant, type DkgResult } from './dkg.ts'
import { type SchnorrSignature, toPublicKey } from './schnorr.ts'
import { combine, partialSign, thresholdChallenge } from './threshold.ts'

/**
 * Runs a DKG among n in-process participants, delivering every message directly (tests and
 * benchmarks; the node runs it over src/p2p/). `faults` makes dealers misbehave.
 */
export type DealerFault =
  | { kind: 'silent' }
  | { kind: 'badShares'; to: number[]; answer: 'correct' | 'wrong' | 'none' }
  | { kind: 'badProof' }
  | { kind: 'shortCommitments' }

export type DkgRun = {
  participants: DkgParticipant[]
  results: Map<number, DkgResult>
  complaints: Complaint[]
}

export function runDkg(
  n: number,
  t: number,
  context: Hex,
  faults: Map<number, DealerFault> = new Map(),
): DkgRun {
  const participants = Array.from({ length: n }, (_, i) =>
    createDkgParticipant({ n, t, index: i + 1, context }),
  )
  const deals = participants.map((p) => p.deal())
  for (const [i, deal] of deals.entries()) {
    const dealer = i + 1
    const fault = faults.get(dealer)
    if (fault?.kind === 'silent') continue
    const broadcast = structuredClone(deal.broadcast)
    if (fault?.kind === 'badProof') broadcast.proof.z = `0x${'11'.repeat(32)}`
    if (fault?.kind === 'shortCommitments')
      broadcast.commitments = broadcast.commitments.slice(0, -1)
    for (const p of participants) {
      p.receiveBroadcast(broadcast)
      let share = deal.shares.get(p.index) as Hex
      if (fault?.kind === 'badShares' && fault.to.includes(p.index)) {
        share = `0x${(BigInt(share) ^ 1n).toString(16).padStart(64, '0')}`
      }
      p.receiveShare(dealer, share)
    }
  }
  const complaints = participants.flatMap((p) => (faults.has(p.index) ? [] : p.complaints()))
  for (const c of complaints) for (const p of participants) p.receiveComplaint(c)
  for (const p of participants) {
    const fault = faults.get(p.index)
    if (fault?.kind === 'badShares' && fault.answer === 'none') continue
    for (const a of p.answers()) {
      const answer =
        fault?.kind === 'badShares' && fault.answer === 'wrong'
          ? { ...a, share: `0x${(BigInt(a.share) ^ 1n).toString(16).padStart(64, '0')}` as Hex }
          : a
      for (const q of participants) q.receiveAnswer(answer)
    }
  }
  const results = new Map<number, DkgResult>()
  for (const p of participants) if (!faults.has(p.index)) results.set(p.index, p.finish())
  return { participants, results, complaints }
}

/**
 * A committee's group key from a DKG, and a signer that signs like the committee would: a nonce
 * DKG per message, partial signatures from `signers` (t of them by default), combined.
 */
export function thresholdCommittee(n: number, t: number, context: Hex) {
  const key = runDkg(n, t, context)
  const groupKey = key.results.get(1)!.groupKey
  let nonces = 0
  return {
    groupKey,
    publicKey: toPublicKey(groupKey),
    shareKeys: key.results.get(1)!.shareKeys,
    sign(
      message: Hex,
      signers: number[] = [...Array(t).keys()].map((i) => i + 1),
    ): SchnorrSignature {
      const nonce = runDkg(
        n,
        t,
        keccak256(encodePacked(['bytes32', 'uint256'], [context, BigInt(++nonces)])),
      )
      const { e, nonceAddress } = thresholdChallenge(
        groupKey,
        message,
        nonce.results.get(1)!.groupKey,
      )
      const partials = signers.map((i) => ({
        index: i,
        sigma: partialSign(key.results.get(i)!.secretShare, nonce.results.get(i)!.secretShare, e),
      }))
      return combine(partials, t, nonceAddress)
    },
  }
}
