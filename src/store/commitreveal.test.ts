import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Address, Hex } from 'viem'
import { parseJobSpec } from '../pipeline/job-spec.ts'
import { TASKS } from '../pipeline/tasks/index.ts'
import { type CommitRevealRepository, createCommitRevealRepository } from './commitreveal.ts'
import type { Db } from './db.ts'
import { createJobRepository } from './jobs.ts'
import { openTestDatabase } from './testing.ts'

const spec = readFileSync(
  join(import.meta.dirname, '../../test/fixtures/commitreveal-request.toml'),
  'utf8',
)
const AGGREGATOR = '0x613a38AC1659769640aaE063C651F48E0250454C' as Address
const ORACLE = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8' as Address
const INT256_MIN = -(2n ** 255n)

describe(`commitreveal round repository (${process.env.DATABASE_URL ? 'Postgres server' : 'PGlite'})`, () => {
  let db: Db
  let rounds: CommitRevealRepository
  let jobId: bigint
  const key = (roundId: bigint) => ({ chainId: 31337, aggregator: AGGREGATOR, roundId })
  const seen = (roundId: bigint, extra: { isFeed?: boolean; requestId?: Hex } = {}) => ({
    ...key(roundId),
    jobId,
    isFeed: extra.isFeed ?? false,
    configVersion: 1,
    commitDeadline: 1_700_000_030n,
    revealDeadline: 1_700_000_060n,
    requestId: extra.requestId,
    inputs: { roundId, data: '0xbf6367657478', big: 2n ** 200n },
  })

  before(async () => {
    db = await openTestDatabase()
    rounds = createCommitRevealRepository(db)
    jobId = (await createJobRepository(db).create(parseJobSpec(spec, TASKS), spec)).id
  })
  after(() => db?.close())

  it('records a round once, then its commit and reveal; the value survives exactly', async () => {
    const requestId = `0x${'ab'.repeat(32)}` as Hex
    assert.equal(await rounds.insert(seen(1n, { requestId })), true)
    assert.equal(await rounds.insert(seen(1n, { requestId })), false, 'delivered twice')
    const fresh = await rounds.get(key(1n))
    assert.equal(fresh?.state, 'observing')
    assert.equal(fresh?.roundStatus, 'open')
    assert.equal(fresh?.requestId, requestId)
    assert.equal(fresh?.commitDeadline, 1_700_000_030n)
    assert.equal(fresh?.value, undefined)
    assert.deepEqual(fresh?.inputs, { roundId: 1, data: '0xbf6367657478', big: 2n ** 200n })

    const salt = `0x${'11'.repeat(32)}` as Hex
    const commitment = `0x${'22'.repeat(32)}` as Hex
    // Stored with the commit transaction in one database transaction.
    await db.transaction(async (tx) => {
      assert.equal(
        await rounds.committed(
          key(1n),
          { oracle: ORACLE, value: INT256_MIN, salt, commitment },
          tx,
        ),
        true,
      )
      await rounds.setCommitTx(key(1n), 7n, tx)
    })
    assert.equal(
      await rounds.committed(key(1n), { oracle: ORACLE, value: 5n, salt, commitment }),
      false,
      'a second commit does not overwrite the first',
    )
    const committed = await rounds.get(key(1n))
    assert.equal(committed?.state, 'committed')
    assert.equal(committed?.value, INT256_MIN)
    assert.equal(committed?.salt, salt)
    assert.equal(committed?.commitment, commitment)
    assert.equal(committed?.oracle, ORACLE)
    assert.equal(committed?.commitTxId, 7n)
    assert.ok(committed?.committedAt instanceof Date)

    await rounds.markRevealsOpen(key(1n))
    assert.equal(await rounds.revealed(key(1n), 8n), true)
    assert.equal(await rounds.revealed(key(1n), 9n), false)
    const revealed = await rounds.get(key(1n))
    assert.equal(revealed?.state, 'revealed')
    assert.equal(revealed?.revealTxId, 8n)
    assert.equal(revealed?.revealsOpen, true)

    assert.equal(await rounds.settle(key(1n), 'finalized', 2n ** 255n - 1n), true)
    assert.equal(await rounds.settle(key(1n), 'failed'), false, 'the outcome is recorded once')
    const done = await rounds.get(key(1n))
    assert.equal(done?.roundStatus, 'finalized')
    assert.equal(done?.answer, 2n ** 255n - 1n)
  })

  it('skips and fails only from the states that allow it; lists active rounds', async () => {
    await rounds.insert(seen(2n, { isFeed: true }))
    await rounds.insert(seen(3n, { isFeed: true }))
    await rounds.insert(seen(4n))
    await rounds.insert(seen(5n))
    // Finalised, but this node's commit still waits for its reveal: still active.
    await rounds.committed(key(5n), {
      oracle: ORACLE,
      value: 1n,
      salt: `0x${'33'.repeat(32)}`,
      commitment: `0x${'44'.repeat(32)}`,
    })
    await rounds.settle(key(5n), 'finalized', 1n)
    assert.equal(await rounds.skipped(key(2n), 'value 10 above maxAnswer 5'), true)
    assert.equal(await rounds.skipped(key(2n), 'again'), false)
    assert.equal(await rounds.failed(key(2n), 'nope'), false, 'a skipped round does not fail')
    assert.equal((await rounds.get(key(2n)))?.reason, 'value 10 above maxAnswer 5')
    assert.equal(await rounds.failed(key(3n), 'commit reverted: CommitsClosed(3)'), true)
    assert.equal((await rounds.get(key(3n)))?.state, 'failed')

    await rounds.skipped(key(4n), 'not a committee member')
    await rounds.settle(key(4n), 'unsettled')
    await rounds.setSettleTx(key(2n), 12n)
    assert.equal((await rounds.get(key(2n)))?.settleTxId, 12n)
    assert.deepEqual(
      (await rounds.active(jobId)).map((r) => r.roundId),
      [2n, 3n, 5n],
    )
    assert.deepEqual(
      (await rounds.listByJob(jobId, { limit: 2 })).map((r) => r.roundId),
      [5n, 4n],
    )
    assert.equal(await rounds.get(key(99n)), undefined)
  })

  it('keeps rounds of another aggregator or chain apart', async () => {
    const other = {
      ...seen(1n),
      aggregator: '0x0000000000000000000000000000000000000001' as Address,
    }
    assert.equal(await rounds.insert(other), true)
    assert.equal(await rounds.insert({ ...seen(1n), chainId: 1 }), true)
    assert.equal((await rounds.get(key(1n)))?.state, 'revealed')
    assert.equal((await rounds.get({ ...key(1n), chainId: 1 }))?.state, 'observing')
  })
})
