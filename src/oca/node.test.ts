/**
 * Appendix A's claims for the OCA protocol, n = 4/f = 1 and n = 7/f = 2, over hundreds of
 * rounds with random faulty sets (at most f), members exchanging messages in a random order
 * through an in-process network with a pacemaker clock:
 * - Claim 3: a valid Σ (one the contract's check accepts) is produced every round;
 * - Claim 4: its answer lies within the honest members' observations;
 * - Claim 2: a freeloader (never fetches data) is never rewarded (Algorithm 3);
 * - a nonce never signs two messages, and no nonce point repeats across rounds.
 * Faults: silent (crashed, also as leader), wild values, equivocation (a leader sending different
 * proposals to different members), invalid partials, withheld reveals, freeloading.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { type Hex, keccak256, toHex } from 'viem'
import { runDkg } from '../crypto/dkg-testing.ts'
import { type SchnorrSignature, toPublicKey, verify } from '../crypto/schnorr.ts'
import { createOcaNode, type OcaMessage, type OcaNode, partialCommitment } from './node.ts'
import { observationDigest, type Report, reportMessage } from './report.ts'
import { rewardedMembers } from './rewards.ts'
import { createNonceDealer, memberAccount, memoryNonceStore } from './testing.ts'

type Fault = 'silent' | 'wild' | 'equivocate' | 'invalidPartial' | 'withhold' | 'freeloader'
const FAULTS: Fault[] = ['silent', 'wild', 'equivocate', 'invalidPartial', 'withhold', 'freeloader']
const VIEW_TIMEOUT_MS = 1000

function committee(n: number, f: number, seed: string) {
  const t = f + 1
  const configDigest = keccak256(toHex(`oca test ${seed}`))
  const key = runDkg(n, t, configDigest)
  const accounts = Array.from({ length: n }, (_, i) => memberAccount(seed, i + 1))
  return {
    n,
    f,
    t,
    configDigest,
    groupKey: key.results.get(1)!.groupKey,
    shareKeys: key.results.get(1)!.shareKeys,
    secretShares: [...key.results.values()].map((r) => r.secretShare),
    accounts,
    dealer: createNonceDealer(n, t, seed),
  }
}

type RoundOutcome = {
  signatures: Map<number, { report: Report; signature: SchnorrSignature; view: number }>
  rewarded: number[]
  honestValues: bigint[]
  nonceRefusals: number
}

/** Plays `round` with `faults`, delivering messages in the order `pick` chooses. */
async function playRound(
  c: ReturnType<typeof committee>,
  round: number,
  faults: Map<number, Fault>,
  pick: (size: number) => number,
  base: bigint,
): Promise<RoundOutcome> {
  const queue: Promise<{ to: number; message: OcaMessage } | undefined>[] = []
  const signatures: RoundOutcome['signatures'] = new Map()
  const commitSets = new Map<number, Map<number, Hex>>()
  const partials = new Map<number, bigint>()
  let nonceRefusals = 0
  let now = 0
  const value = (i: number) => base + BigInt(i * 7)
  const nodes: OcaNode[] = []
  for (let i = 1; i <= c.n; i++) {
    const fault = faults.get(i)
    const account = c.accounts[i - 1]!
    const outgoing = (to: number, message: OcaMessage) => {
      if (fault === 'silent') return
      if (fault === 'withhold' && message.type === 'reveal') return
      if (fault === 'invalidPartial' && message.type === 'reveal') {
        message = { ...message, sigma: toHex(BigInt(message.sigma) + 1n, { size: 32 }) }
      }
      if (fault === 'equivocate' && message.type === 'propose') {
        // Its own observation re-signed with another value for each recipient.
        const m = message
        queue.push(
          (async () => {
            const own = m.observations.find((o) => o.index === i)
            if (!own) return { to, message: m }
            const v = own.value + BigInt(to)
            const signature = await account.signMessage({
              message: { raw: observationDigest(c.configDigest, round, v) },
            })
            return {
              to,
              message: {
                ...m,
                observations: m.observations.map((o) =>
                  o.index === i ? { index: i, value: v, signature } : o,
                ),
              },
            }
          })(),
        )
        return
      }
      queue.push(Promise.resolve({ to, message }))
    }
    const store = memoryNonceStore(c.dealer, i)
    nodes.push(
      createOcaNode(
        {
          n: c.n,
          f: c.f,
          index: i,
          configDigest: c.configDigest,
          oracles: c.accounts.map((a) => a.address),
          groupKey: c.groupKey,
          shareKeys: c.shareKeys,
          secretShare: c.secretShares[i - 1]!,
          viewTimeoutMs: VIEW_TIMEOUT_MS,
        },
        {
          observe: async () => {
            if (fault === 'freeloader') throw new Error('a freeloader fetches nothing')
            return fault === 'wild' ? value(i) * 1000n + 12345n : value(i)
          },
          signObservation: (digest) => account.signMessage({ message: { raw: digest } }),
          nonces: {
            get: (r, v) => store.get(r, v),
            use: async (r, v, m) => {
              try {
                await store.use(r, v, m)
              } catch (err) {
                nonceRefusals += 1
                throw err
              }
            },
          },
          send: outgoing,
          broadcast: (message) => {
            for (let j = 1; j <= c.n; j++) if (j !== i) outgoing(j, message)
          },
          onCommitSet: (_r, _v, set) => {
            if (!faults.has(i)) commitSets.set(i, set)
          },
          onPartial: (_r, _v, from, sigma) => {
            partials.set(from, sigma)
          },
          onSignature: (_r, result) => {
            signatures.set(i, result)
          },
        },
      ),
    )
  }
  for (const node of nodes)
    if (faults.get(node.index) !== 'silent') await node.startRound(round, now)
  const honest = nodes.filter((x) => !faults.has(x.index))
  for (let views = 0; views < 2 * c.n + 2; views++) {
    while (queue.length > 0) {
      const [next] = queue.splice(pick(queue.length), 1)
      const delivery = await next!
      if (!delivery || faults.get(delivery.to) === 'silent') continue
      await nodes[delivery.to - 1]!.receive(delivery.message, now)
    }
    if (honest.every((x) => signatures.has(x.index))) break
    now += VIEW_TIMEOUT_MS
    for (const node of nodes) if (faults.get(node.index) !== 'silent') node.tick(now)
  }
  // The provider's view (Algorithm 3): commitment sets from the honest members, valid partials.
  const anySignature = [...signatures.values()][0]
  const observers = new Set<number>()
  if (anySignature) {
    for (let i = 1; i <= c.n; i++) {
      const fault = faults.get(i)
      if (fault !== 'silent' && fault !== 'freeloader') observers.add(i)
    }
  }
  const rewarded = anySignature
    ? rewardedMembers({
        f: c.f,
        commitSets,
        partials,
        observers,
        commitmentOf: (j, sigma) =>
          partialCommitment(c.configDigest, round, anySignature.view, j, sigma),
      })
    : []
  const honestValues = honest.map((x) => value(x.index))
  return { signatures, rewarded, honestValues, nonceRefusals }
}

describe('OCA protocol (Algorithm 2) in process', () => {
  for (const [n, f, runs] of [
    [4, 1, 120],
    [7, 2, 60],
  ] as const) {
    it(`n = ${n}, f = ${f}: ${runs} rounds with random faults: a valid Σ every round, honest answers, no freeloader paid`, async () => {
      const c = committee(n, f, `claims ${n}`)
      const nonceRounds = new Map<string, number>()
      let round = 0
      let freeloaders = 0
      let equivocations = 0
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(
            fc.record({ index: fc.integer({ min: 1, max: n }), fault: fc.constantFrom(...FAULTS) }),
            { maxLength: f, selector: (x) => x.index },
          ),
          fc.infiniteStream(fc.nat()),
          fc.bigInt({ min: 1_000_000n, max: 10n ** 15n }),
          async (faultList, stream, base) => {
            round += 1
            const faults = new Map(faultList.map((x) => [x.index, x.fault]))
            const it = stream[Symbol.iterator]()
            const outcome = await playRound(
              c,
              round,
              faults,
              (size) => it.next().value % size,
              base,
            )
            // Claim 3: every honest member ends the round with a valid signature.
            const honest = [...Array(n).keys()].map((i) => i + 1).filter((i) => !faults.has(i))
            for (const i of honest) {
              const s = outcome.signatures.get(i)
              assert.ok(s, `member ${i} got no signature in round ${round}`)
              assert.ok(
                verify(
                  toPublicKey(c.groupKey),
                  reportMessage(c.configDigest, s.report),
                  s.signature,
                ),
              )
              // Claim 4: the answer is within the honest observations.
              const sorted = [...outcome.honestValues].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
              const [lo, hi] = [sorted[0] as bigint, sorted.at(-1) as bigint]
              assert.ok(
                s.report.answer >= lo && s.report.answer <= hi,
                `answer ${s.report.answer} not in [${lo}, ${hi}]`,
              )
            }
            // Claim 2: no freeloader (nor a silent, withholding or invalid-partial member) is paid.
            for (const [i, fault] of faults) {
              if (fault === 'freeloader') freeloaders += 1
              if (fault === 'equivocate') equivocations += 1
              if (fault !== 'wild' && fault !== 'equivocate') {
                assert.ok(!outcome.rewarded.includes(i), `member ${i} (${fault}) was rewarded`)
              }
            }
            assert.equal(outcome.nonceRefusals, 0, 'a nonce was asked to sign a second message')
            // No nonce point R ever serves two rounds.
            for (const sig of outcome.signatures.values()) {
              const seenIn = nonceRounds.get(sig.signature.nonceAddress)
              assert.ok(
                seenIn === undefined || seenIn === round,
                `R reused in rounds ${seenIn} and ${round}`,
              )
              nonceRounds.set(sig.signature.nonceAddress, round)
            }
          },
        ),
        { numRuns: runs },
      )
      assert.ok(freeloaders > 0 && equivocations > 0, 'the faults were exercised')
    })
  }

  it('a restarted member asked to sign another proposal under a used nonce refuses', async () => {
    const c = committee(4, 1, 'restart')
    const store = memoryNonceStore(c.dealer, 2)
    await store.use(9, 0, keccak256('0x01'))
    await store.use(9, 0, keccak256('0x01')) // the same message again: allowed (same partial)
    await assert.rejects(store.use(9, 0, keccak256('0x02')), /already signed another message/)
  })
})
