/**
 * Retrying a failed nonce-batch session (docs/protocol/oca.md, "Nonce pool"): four members
 * (f = 1) over libp2p on 127.0.0.1, each on its own PGlite. Members 3 and 4 are away while 1 and
 * 2 open the first batch's session: two of four cannot agree (n − f = 3 digests are needed), so
 * attempt 0 fails and nothing is stored. 3 and 4 come back and open attempt 0 themselves (as a
 * member does when its first round starts); the committee converges on one later attempt
 * (`nonces/0/<k>`), every member stores that attempt's nonces — the same points everywhere — and
 * rounds are signed with them.
 */
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, describe, it } from 'node:test'
import pino from 'pino'
import { type LocalMembers, startLocalMembers } from './local-committee.ts'
import { nonceSessionId } from './member.ts'

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('nonce batch retry', () => {
  let committee: LocalMembers | undefined
  after(async () => {
    await committee?.stop()
  })

  it('a batch whose first session failed is made by a later attempt, the same at every member', async () => {
    const lines: Record<string, unknown>[] = []
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk, _enc, done) {
          for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line))
          done()
        },
      }),
    )
    committee = await startLocalMembers({
      n: 4,
      f: 1,
      logger,
      startMembers: false,
      timing: {
        phaseTimeoutMs: 500,
        roundsPerBatch: 3,
        viewsPerRound: 2,
        viewTimeoutMs: 3_000,
        transmitStepMs: 100,
        batchRetryBackoff: { initialMs: 2_000, maxMs: 4_000 },
      },
    })
    const { stores, configDigest } = committee
    const m1 = await committee.start(1)
    const m2 = await committee.start(2)

    // Attempt 0 with 3 and 4 away: two digests of the three needed; nothing stored.
    assert.deepEqual(await Promise.all([m1.ensureNonces(1), m2.ensureNonces(1)]), [false, false])
    for (const store of stores) assert.deepEqual(await store.batches(configDigest), [])
    // While the retry waits, rounds of the batch are not held up: no nonces yet.
    assert.equal(await m1.ensureNonces(1), false)

    // 3 and 4 come back and ask for the batch at once (their own attempt 0, which 1 and 2 refuse).
    const m3 = await committee.start(3)
    const m4 = await committee.start(4)
    void m3.ensureNonces(1)
    void m4.ensureNonces(1)
    await waitFor(
      'the batch at every member',
      async () =>
        (await Promise.all(stores.map((s) => s.batches(configDigest)))).every(
          (b) => b.length === 1,
        ),
      30_000,
    )

    // One attempt, the same at all four: same session digest, same nonce points.
    const batches = await Promise.all(stores.map((s) => s.batches(configDigest)))
    assert.equal(new Set(batches.map((b) => b[0]!.digest)).size, 1)
    const records = await Promise.all(stores.map((s) => s.nonceRecords(configDigest)))
    for (const r of records) assert.equal(r.length, 3 * 2)
    for (let k = 0; k < 6; k++) assert.equal(new Set(records.map((r) => r[k]!.point)).size, 1)
    const storedLines = lines.filter((l) => l.msg === 'nonce batch stored')
    assert.equal(storedLines.length, 4)
    const attempt = storedLines[0]!.attempt as number
    assert.ok(attempt >= 1, `stored by attempt ${attempt}`)
    assert.ok(storedLines.every((l) => l.attempt === attempt))
    assert.ok(
      lines.some((l) => l.msg === 'DKG session done' && l.session === nonceSessionId(0, attempt)),
    )
    assert.ok(lines.some((l) => l.msg === 'nonce batch failed: retrying with a new session'))

    // Rounds 1–3 are signed with these nonces and accepted by the (in-memory) chain.
    for (let round = 1; round <= 3; round++) {
      await Promise.all([m1, m2, m3, m4].map((m) => m.startRound(round)))
      await waitFor(`round ${round}`, async () => committee!.transmitted.has(round), 10_000)
    }
    const used = (await Promise.all(stores.map((s) => s.nonceRecords(configDigest)))).flatMap((r) =>
      r.filter((x) => x.message !== undefined),
    )
    assert.ok(used.length >= 3 * 3, `${used.length} nonces used`)
    for (const u of used) assert.ok(records[0]!.some((x) => x.point === u.point))
  })
})
