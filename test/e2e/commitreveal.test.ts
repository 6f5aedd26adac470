import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Address, parseEventLogs } from 'viem'
import { CommitRevealAggregatorAbi, LinkTokenAbi, PriceConsumerAbi } from '../../artifacts/abis.ts'
import { increaseTime, LINK, send } from '../../src/chain/testing.ts'
import { specIdOf } from '../../src/node/directrequest.ts'
import { parseJobSpec } from '../../src/pipeline/job-spec.ts'
import { TASKS } from '../../src/pipeline/tasks/index.ts'
import { type CommitteeWorld, REQUEST_SPEC, startCommitteeWorld } from './commitreveal-setup.ts'
import { waitFor } from './node-setup.ts'

/**
 * Four in-process oracle nodes (f = 1, MedianAggregation(3), minReveals 3) on one anvil, each
 * observing its own price from a local HTTP source, answer through a CommitRevealAggregator:
 * (a) a ChainlinkClient-style consumer's request, answered with the median of the first three
 * reveals, with one node lying; (b) feed jobs that start rounds when the feed has no answer, on
 * a deviation and on a heartbeat; (c) a node stopped between its commit and its reveal reveals
 * the same value with the same salt after its restart.
 */

// Node 3 lies: f = 1 cannot move the median outside the honest prices.
const PRICES = ['3000.10', '3000.20', '3000.30', '99999']
const PAYMENT = (4n * LINK) / 100n
const REQUEST_JOB_ID = parseJobSpec(REQUEST_SPEC, TASKS).spec.externalJobID!

type RevealedLog = { oracle: Address; value: bigint; roundId: bigint }

describe(`commit–reveal committee of 4 nodes (${process.env.DATABASE_URL ? 'Postgres' : 'PGlite'})`, () => {
  let w: CommitteeWorld

  const read = <T>(functionName: string, args: readonly unknown[] = []) =>
    w.chain.owner.readContract({
      address: w.aggregator,
      abi: CommitRevealAggregatorAbi,
      functionName,
      args,
    } as never) as Promise<T>

  type RoundView = {
    status: number
    commitBitmap: number
    revealBitmap: number
    answer: bigint
    updatedAt: number
  }
  const round = (roundId: bigint) => read<RoundView>('getRound', [roundId])

  /** The Revealed logs of a round, in chain order. */
  async function reveals(roundId: bigint): Promise<RevealedLog[]> {
    const logs = await w.chain.owner.getLogs({ address: w.aggregator, fromBlock: 0n })
    return parseEventLogs({ abi: CommitRevealAggregatorAbi, logs, eventName: 'Revealed' })
      .filter((l) => l.args.roundId === roundId)
      .map((l) => ({ oracle: l.args.oracle, value: l.args.value, roundId }))
  }

  /** A consumer request for the request job; its round id. */
  async function request(): Promise<bigint> {
    const receipt = await send(w.chain.owner, {
      address: w.consumer,
      abi: PriceConsumerAbi,
      functionName: 'requestValue',
      args: [specIdOf(REQUEST_JOB_ID), PAYMENT, w.source.url, 'price', 100n, false],
    })
    const [started] = parseEventLogs({
      abi: CommitRevealAggregatorAbi,
      logs: receipt.logs,
      eventName: 'RoundStarted',
    })
    assert.ok(started)
    return started.args.roundId
  }

  const median3 = (values: bigint[]) => [...values].sort((a, b) => (a < b ? -1 : 1))[1]!

  before(async () => {
    w = await startCommitteeWorld({
      prefix: 'orakel-cr-',
      n: 4,
      f: 1,
      minReveals: 3,
      commitWindow: 30,
      revealWindow: 30,
      prices: [...PRICES],
    })
    for (const [i, n] of w.nodes.entries()) {
      const created = await n.api('POST', '/v2/jobs', w.requestSpec(i))
      assert.equal(created.status, 201, JSON.stringify(created.json))
    }
  })
  after(() => w?.close())

  it('answers a consumer request with the median of the first three reveals', async () => {
    const roundId = await request()
    const answer = await waitFor('the consumer to receive the answer', async () => {
      const v = await w.chain.owner.readContract({
        address: w.consumer,
        abi: PriceConsumerAbi,
        functionName: 'latestAnswer',
      })
      return v === 0n ? undefined : v
    })
    const r = await round(roundId)
    assert.equal(r.status, 2, 'Finalized')
    assert.equal(r.answer, answer)
    const revealed = await reveals(roundId)
    assert.ok(revealed.length >= 3)
    assert.equal(answer, median3(revealed.slice(0, 3).map((x) => x.value)))
    // Within the honest values (× times 100), whoever revealed first.
    assert.ok(answer >= 300010n && answer <= 300030n, `answer ${answer}`)
    // Each node revealed what it committed to, from its own key; the late reveal is still paid.
    await waitFor('all four reveals', async () =>
      (await reveals(roundId)).length === 4 ? true : undefined,
    )
    for (const [i, n] of w.nodes.entries()) {
      const mine = (await reveals(roundId)).find((x) => x.oracle === n.address)
      const expected = BigInt(Math.round(Number(PRICES[i]) * 100))
      assert.equal(mine?.value, expected, `node ${i}`)
      const kinds = () =>
        n.events.filter((e) => 'roundId' in e && e.roundId === roundId).map((e) => e.kind)
      // A late revealer may see the round finalized (by the first three) before its own
      // reveal is recorded: only the reveal itself, after the commit, is required.
      await waitFor(`node ${i}'s reveal`, async () =>
        kinds().includes('revealed') ? true : undefined,
      )
      assert.deepEqual(kinds().slice(0, 2), ['round-started', 'committed'], `node ${i}: ${kinds()}`)
      await waitFor(`node ${i} to see the answer`, () =>
        n.events.some((e) => e.kind === 'finalized' && e.roundId === roundId && e.answer === answer)
          ? true
          : undefined,
      )
    }
  })

  it('keeps a feed: a first answer, a new round on deviation and on the heartbeat', async () => {
    // An honest committee here: a member whose observation always deviates would ask for a
    // round whenever none is open.
    w.source.prices[3] = '3000.40'
    const jobIds: string[] = []
    for (const [i, n] of w.nodes.entries()) {
      const created = await n.api(
        'POST',
        '/v2/jobs',
        w.feedSpec(i, { pollPeriod: '"250ms"', heartbeat: '"20s"', deviationThreshold: '1' }),
      )
      assert.equal(created.status, 201, JSON.stringify(created.json))
      jobIds.push(String((created.json.job as { id: string }).id))
    }
    type Latest = readonly [bigint, bigint, bigint, bigint, bigint]
    const latest = async (): Promise<Latest | undefined> => {
      try {
        return await read<Latest>('latestRoundData')
      } catch {
        return undefined // NoDataPresent
      }
    }
    const scaled = (p: string) => BigInt(Math.round(Number(p) * 1e8))
    const first = await waitFor('the first feed answer', latest, 30_000)
    assert.ok(first[1] >= scaled('3000.10') && first[1] <= scaled('3000.40'), `answer ${first[1]}`)
    const requested = w.nodes.flatMap((n) =>
      n.events.filter((e) => e.kind === 'feed-round-requested'),
    )
    assert.ok(requested.length >= 1)
    assert.match((requested[0] as { reason: string }).reason, /no answer/)

    // Deviation: every price up 5 % (more than the 1 % threshold).
    w.source.prices.splice(0, 4, '3150.10', '3150.20', '3150.30', '3150.40')
    const moved = await waitFor(
      'a feed answer after the deviation',
      async () => {
        const l = await latest()
        return l && l[0] > first[0] && l[1] >= scaled('3150.10') ? l : undefined
      },
      30_000,
    )
    assert.ok(moved[1] <= scaled('3150.40'))

    // Heartbeat: the same prices, the chain's clock 25 s on (heartbeat 20 s).
    await new Promise((r) => setTimeout(r, 1000))
    const before = await latest()
    assert.equal(before?.[0], moved[0], 'no new round without deviation or heartbeat')
    await increaseTime(w.chain, 25)
    const beat = await waitFor(
      'a feed answer on the heartbeat',
      async () => {
        const l = await latest()
        return l && l[0] > moved[0] ? l : undefined
      },
      30_000,
    )
    assert.ok(beat[3] > moved[3], 'updatedAt moved')
    assert.ok(
      w.nodes.some((n) =>
        n.events.some((e) => e.kind === 'feed-round-requested' && /heartbeat/.test(e.reason)),
      ),
    )
    // The feed jobs stop; the next test uses requests only.
    for (const [i, n] of w.nodes.entries()) {
      assert.equal((await n.api('DELETE', `/v2/jobs/${jobIds[i]}`)).status, 200)
    }
  })

  it('a node stopped between commit and reveal reveals the same value and salt after its restart', async () => {
    const [a, ...others] = w.nodes
    for (const o of others) w.source.gate(o.index)
    const roundId = await request()
    // Node 0 commits (its bit is set on chain); the others wait for their price.
    await waitFor('node 0 to commit on chain', async () =>
      ((await round(roundId)).commitBitmap & 1) === 1 ? true : undefined,
    )
    const committed = a!.events.find((e) => e.kind === 'committed' && e.roundId === roundId)
    assert.ok(committed && committed.kind === 'committed')
    await a!.stop()
    assert.equal((await round(roundId)).revealBitmap, 0)

    // The others commit and reveal; three reveals finalise the round without node 0.
    for (const o of others) w.source.release(o.index)
    await waitFor('the round to finalise without node 0', async () =>
      (await round(roundId)).status === 2 ? true : undefined,
    )
    assert.equal((await round(roundId)).revealBitmap & 1, 0)

    // Restarted, node 0 finds its committed round and reveals it (a late reveal is still paid).
    const paidBefore = (await read<{ reveals: number }>('getOracle', [a!.address])).reveals
    await a!.start()
    await waitFor('node 0 to reveal after its restart', async () =>
      ((await round(roundId)).revealBitmap & 1) === 1 ? true : undefined,
    )
    const mine = (await reveals(roundId)).find((x) => x.oracle === a!.address)
    assert.equal(mine?.value, committed.value, 'the value it committed to before the restart')
    // The contract accepted the reveal only because value and salt open the stored commitment.
    assert.equal(
      (await read<{ reveals: number }>('getOracle', [a!.address])).reveals,
      paidBefore + 1,
    )
    const revealed = a!.events.find((e) => e.kind === 'revealed' && e.roundId === roundId)
    assert.ok(revealed, 'the restarted node reported its reveal')
    assert.equal(
      a!.events.filter((e) => e.kind === 'committed' && e.roundId === roundId).length,
      1,
      'no second commit',
    )
  })
  it('a round short of reveals: reveals at the commit deadline, one designated member settles', async () => {
    // Two members cannot take part: one's source is down, one observes a value below minAnswer.
    w.source.prices.splice(0, 4, '3000.10', 'down', '-5', '3000.40')
    for (const n of w.nodes) n.events.length = 0
    const roundId = await request()
    const skipped = (i: number) =>
      w.nodes[i]!.events.find((e) => e.kind === 'skipped' && e.roundId === roundId)
    const down = await waitFor('node 1 to skip', () => skipped(1))
    assert.match((down as { reason: string }).reason, /the pipeline failed/)
    const low = await waitFor('node 2 to skip', () => skipped(2))
    assert.match((low as { reason: string }).reason, /value -500 is below minAnswer 1/)
    await waitFor('two commits', async () =>
      (await round(roundId)).commitBitmap === 0b1001 ? true : undefined,
    )
    assert.equal((await round(roundId)).revealBitmap, 0, 'two commits do not open reveals')

    // The commit window ends by the chain's clock: the two members reveal, too few to decide.
    await increaseTime(w.chain, 31)
    await waitFor('two reveals after the commit deadline', async () =>
      (await round(roundId)).revealBitmap === 0b1001 ? true : undefined,
    )
    assert.equal((await round(roundId)).status, 1, 'still open: 2 reveals < minReveals 3')

    // After the reveal deadline only the designated member (roundId mod 4) settles.
    const balance = () =>
      w.chain.owner.readContract({
        address: w.link,
        abi: LinkTokenAbi,
        functionName: 'balanceOf',
        args: [w.consumer],
      })
    const before = await balance()
    await increaseTime(w.chain, 31)
    await waitFor('the round to fail', async () =>
      (await round(roundId)).status === 3 ? true : undefined,
    )
    const designated = Number(roundId % 4n)
    await waitFor('every node to see the failure', () =>
      w.nodes.every((n) => n.events.some((e) => e.kind === 'round-failed' && e.roundId === roundId))
        ? true
        : undefined,
    )
    const settlers = w.nodes.filter((n) =>
      n.events.some((e) => e.kind === 'settle-sent' && e.roundId === roundId),
    )
    assert.deepEqual(
      settlers.map((n) => n.index),
      [designated],
    )
    // The two unpaid answers go back to the requester.
    assert.equal((await balance()) - before, PAYMENT - (2n * LINK) / 100n)
  })
})
