/**
 * DKG sessions (src/oca/dkg-session.ts) over an in-memory network that delivers every message
 * asynchronously and lets a test drop or alter messages: honest runs, a silent member, a bad
 * share answered, an equivocating dealer, a bad proof of possession.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { mod } from '@noble/curves/abstract/modular'
import { secp256k1 } from '@noble/curves/secp256k1'
import { type Hex, keccak256, toHex } from 'viem'
import { createDkgParticipant, pointHex } from '../crypto/dkg.ts'
import { Q } from '../crypto/schnorr.ts'
import { lagrangeAtZero } from '../crypto/threshold.ts'
import {
  createDkgSession,
  type DkgSession,
  DkgSessionError,
  type DkgSessionResult,
  instanceContext,
} from './dkg-session.ts'
import type { DkgMessage } from './wire.ts'

const G = secp256k1.ProjectivePoint.BASE
const CONTEXT = keccak256(toHex('dkg session test'))

/** Returns the message to deliver from → to, or undefined to drop it. */
type Tamper = (from: number, to: number, m: DkgMessage) => DkgMessage | undefined

function run(
  n: number,
  f: number,
  options: {
    instances?: number
    silent?: number[]
    tamper?: Tamper
    proveShares?: boolean
    phaseTimeoutMs?: number
  } = {},
) {
  const sessions = new Map<number, DkgSession>()
  const silent = new Set(options.silent ?? [])
  const deliver = (from: number, to: number, m: DkgMessage) => {
    if (silent.has(from) || silent.has(to)) return
    const out = options.tamper ? options.tamper(from, to, structuredClone(m)) : structuredClone(m)
    if (out) setImmediate(() => sessions.get(to)?.deliver(from, out))
  }
  for (let i = 1; i <= n; i++) {
    if (silent.has(i)) continue
    sessions.set(
      i,
      createDkgSession(
        {
          id: 'nonces/7',
          n,
          t: f + 1,
          quorum: n - f,
          index: i,
          instances: options.instances ?? 3,
          context: CONTEXT,
          phaseTimeoutMs: options.phaseTimeoutMs ?? 300,
          proveShares: options.proveShares ?? false,
        },
        {
          transport: {
            broadcast: (m) => {
              for (let j = 1; j <= n; j++) if (j !== i) deliver(i, j, m)
            },
            send: (to, m) => deliver(i, to, m),
          },
        },
      ),
    )
  }
  for (const s of sessions.values()) s.start()
  return Promise.all(
    [...sessions].map(async ([i, s]) => {
      try {
        return [i, await s.result] as const
      } catch (err) {
        return [i, err as Error] as const
      }
    }),
  ).then((all) => new Map<number, DkgSessionResult | Error>(all))
}

/** Dealer `dealer` sends `victims` a second, valid deal (and the shares that match it). */
function equivocate(dealer: number, victims: number[], n = 4, f = 1, instances = 3): Tamper {
  const alt = Array.from({ length: instances }, (_, b) =>
    createDkgParticipant({
      n,
      t: f + 1,
      index: dealer,
      context: instanceContext(CONTEXT, 'nonces/7', b),
    }).deal(),
  )
  return (from, to, m) => {
    if (from !== dealer || !victims.includes(to)) return m
    if (m.kind === 'deal')
      return {
        ...m,
        deals: alt.map((d) => ({ commitments: d.broadcast.commitments, proof: d.broadcast.proof })),
      }
    if (m.kind === 'share') return { ...m, shares: alt.map((d) => d.shares.get(to)!) }
    return m
  }
}

function ok(outcome: DkgSessionResult | Error | undefined): DkgSessionResult {
  if (!(outcome && !(outcome instanceof Error))) assert.fail(`session failed: ${outcome}`)
  return outcome
}

/** Every instance's shares (of `members`) interpolate to the secret of its group key. */
function assertConsistent(outcomes: Map<number, DkgSessionResult | Error>, members: number[]) {
  const first = ok(outcomes.get(members[0]!))
  for (const i of members) assert.equal(ok(outcomes.get(i)).digest, first.digest)
  first.results.forEach((r, b) => {
    for (const i of members) {
      const mine = ok(outcomes.get(i)).results[b]!
      assert.equal(pointHex(mine.groupKey), pointHex(r.groupKey))
      assert.deepEqual(mine.shareKeys, r.shareKeys)
      assert.equal(pointHex(G.multiply(mine.secretShare)), r.shareKeys[i - 1])
    }
    let secret = 0n
    const set = members.slice(0, 2)
    for (const i of set)
      secret = mod(secret + lagrangeAtZero(i, set) * ok(outcomes.get(i)).results[b]!.secretShare, Q)
    assert.equal(pointHex(G.multiply(secret)), pointHex(r.groupKey), `instance ${b}`)
  })
  // No nonce point twice within the batch.
  assert.equal(new Set(first.results.map((r) => pointHex(r.groupKey))).size, first.results.length)
}

describe('DKG sessions', () => {
  it('gives every member consistent shares of B keys in one exchange', async () => {
    const outcomes = await run(4, 1, { instances: 5 })
    assertConsistent(outcomes, [1, 2, 3, 4])
    assert.deepEqual(ok(outcomes.get(1)).results[0]!.qualified, [1, 2, 3, 4])
    assert.ok(ok(outcomes.get(2)).agreed.length >= 3)
  })

  it('goes on without a silent member (after a phase timeout)', async () => {
    const started = Date.now()
    const outcomes = await run(4, 1, { silent: [3] })
    assertConsistent(outcomes, [1, 2, 4])
    assert.deepEqual(ok(outcomes.get(1)).results[2]!.qualified, [1, 2, 4])
    assert.ok(Date.now() - started >= 300)
  })

  it('keeps a dealer whose bad share was answered with the right one', async () => {
    const outcomes = await run(4, 1, {
      tamper: (from, to, m) => {
        if (m.kind === 'share' && from === 2 && to === 4)
          m.shares[1] = toHex(BigInt(m.shares[1]!) ^ 1n, { size: 32 })
        return m
      },
    })
    assertConsistent(outcomes, [1, 2, 3, 4])
    for (const r of ok(outcomes.get(4)).results) assert.deepEqual(r.qualified, [1, 2, 3, 4])
  })

  it('disqualifies a dealer that leaves a complaint unanswered', async () => {
    const outcomes = await run(4, 1, {
      tamper: (from, to, m) => {
        if (m.kind === 'share' && from === 2 && to === 4) m.shares[0] = toHex(5n, { size: 32 })
        if (m.kind === 'answers' && from === 2) return undefined
        return m
      },
    })
    assertConsistent(outcomes, [1, 3, 4])
    assert.deepEqual(ok(outcomes.get(1)).results[0]!.qualified, [1, 3, 4])
    assert.deepEqual(ok(outcomes.get(1)).results[1]!.qualified, [1, 2, 3, 4])
  })

  it('refuses the result of a member that saw a different broadcast', async () => {
    // Dealer 1 shows member 4 another valid deal (commitments, proofs and a matching share):
    // member 4 alone would get another key.
    const outcomes = await run(4, 1, { tamper: equivocate(1, [4]) })
    assertConsistent(outcomes, [1, 2, 3])
    assert.ok(outcomes.get(4) instanceof DkgSessionError, 'member 4 does not use its key')
  })

  it('refuses to use a key unless n−f members report the same digest', async () => {
    // Dealer 1 shows members 3 and 4 another deal than 1 and 2: two views of two members each.
    const outcomes = await run(4, 1, { tamper: equivocate(1, [3, 4]) })
    for (const i of [1, 2, 3, 4])
      assert.ok(outcomes.get(i) instanceof DkgSessionError, `member ${i}`)
  })

  it('counts a digest only with a valid proof of possession of the share key (group key)', async () => {
    const outcomes = await run(4, 1, {
      instances: 1,
      proveShares: true,
      tamper: (from, _to, m) => {
        if (m.kind === 'digest' && from === 4 && m.proof)
          return {
            ...m,
            proof: { ...m.proof, z: toHex(BigInt(m.proof.z) ^ 1n, { size: 32 }) as Hex },
          }
        return m
      },
    })
    assertConsistent(outcomes, [1, 2, 3, 4])
    assert.deepEqual(ok(outcomes.get(1)).agreed, [1, 2, 3])
  })
})
