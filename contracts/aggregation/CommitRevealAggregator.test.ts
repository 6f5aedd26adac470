import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  type Address,
  encodeFunctionData,
  type Hex,
  parseEventLogs,
  type TransactionReceipt,
  toHex,
  zeroAddress,
} from 'viem'
import {
  CommitRevealAggregatorAbi,
  FeedReaderAbi,
  FeedReaderBytecode,
  HostileConsumerAbi,
  HostileConsumerBytecode,
  LinkTokenAbi,
  MajorityAggregationAbi,
  MajorityAggregationBytecode,
  OperatorAbi,
  PriceConsumerAbi,
} from '../../artifacts/abis.ts'
import { commitmentOf } from '../../src/chain/commit-reveal.ts'
import {
  type Committee,
  deployCommittee,
  randomSalt,
  type Signer,
} from '../../src/chain/commit-reveal-testing.ts'
import {
  deployContract,
  deployPriceConsumer,
  expectRevert,
  fundLink,
  increaseTime,
  LINK,
  linkBalance,
  send,
  startTestChain,
  type TestChain,
} from '../../src/chain/testing.ts'

const SPEC_ID = toHex('median-price', { size: 32 })
const PAY = LINK / 100n

type Round = { roundId: bigint; commitDeadline: number; revealDeadline: number; requestId: Hex }

function eventsOf(receipt: TransactionReceipt) {
  return parseEventLogs({ abi: CommitRevealAggregatorAbi, logs: receipt.logs })
}

function startedIn(receipt: TransactionReceipt): Round {
  const started = eventsOf(receipt).find((e) => e.eventName === 'RoundStarted')
  assert.ok(started, 'no RoundStarted event')
  const a = started.args as {
    roundId: bigint
    commitDeadline: number
    revealDeadline: number
    requestId: Hex
  }
  return {
    roundId: a.roundId,
    commitDeadline: a.commitDeadline,
    revealDeadline: a.revealDeadline,
    requestId: a.requestId,
  }
}

function ok(receipt: TransactionReceipt, what: string) {
  assert.equal(receipt.status, 'success', `${what} reverted`)
  return receipt
}

describe('CommitRevealAggregator', () => {
  let chain: TestChain
  before(async () => {
    chain = await startTestChain()
  })
  after(async () => {
    await chain?.stop()
  })

  async function consumerFor(c: Committee): Promise<Address> {
    const consumer = await deployPriceConsumer(chain, c.link, c.aggregator, 100n * LINK)
    return consumer
  }

  async function request(consumer: Address, payment: bigint): Promise<Round> {
    const receipt = await send(chain.owner, {
      address: consumer,
      abi: PriceConsumerAbi,
      functionName: 'requestValue',
      args: [SPEC_ID, payment, 'http://127.0.0.1/price', 'price', 100n, false],
    })
    return startedIn(receipt)
  }

  async function commitAll(
    c: Committee,
    roundId: bigint,
    who: Signer[],
    values: readonly bigint[],
  ) {
    const salts: Hex[] = []
    for (const [i, o] of who.entries()) {
      const salt = randomSalt()
      salts.push(salt)
      const value = values[i] as bigint
      ok(
        await c.call(o, 'commit', [roundId, c.commitment(o.address, roundId, value, salt)]),
        'commit',
      )
    }
    return salts
  }

  describe('a request answered by n = 4, f = 1', () => {
    let c: Committee
    let consumer: Address
    before(async () => {
      c = await deployCommittee(chain, { n: 4, f: 1, paymentPerAnswer: PAY })
      consumer = await consumerFor(c)
    })

    it('finalises with the median at the 2f+1-th reveal, calls back, pays revealers only, refunds the rest', async () => {
      const payment = 5n * PAY
      const consumerBefore = await linkBalance(chain, c.link, consumer)
      const round = await request(consumer, payment)
      assert.equal(await c.read('roundOfRequest', [round.requestId]), round.roundId)
      const [a, b, d, e] = c.oracles as [Signer, Signer, Signer, Signer]
      const values = [1000n, 1010n, 990n, 5000n]
      const salts = await commitAll(c, round.roundId, [a, b, d], values)
      // Three commits (2f+1) opened the reveals; e commits before anyone reveals.
      const eSalt = randomSalt()
      ok(
        await c.call(e, 'commit', [
          round.roundId,
          c.commitment(e.address, round.roundId, 5000n, eSalt),
        ]),
        'commit e',
      )
      const view = await c.read<{ revealsOpen: boolean; commitBitmap: number }>('getRound', [
        round.roundId,
      ])
      assert.equal(view.revealsOpen, true)
      assert.equal(view.commitBitmap, 0b1111)

      ok(await c.call(a, 'reveal', [round.roundId, 1000n, salts[0]]), 'reveal a')
      // Commits close at the first reveal: nobody can commit to a value seen revealed.
      ok(await c.call(b, 'reveal', [round.roundId, 1010n, salts[1]]), 'reveal b')
      const final = ok(await c.call(d, 'reveal', [round.roundId, 990n, salts[2]]), 'reveal d')
      const names = eventsOf(final).map((x) => x.eventName)
      assert.ok(names.includes('RoundFinalized'), names.join(','))
      const fulfilled = eventsOf(final).find((x) => x.eventName === 'RequestFulfilled')
      assert.equal((fulfilled?.args as { success?: boolean } | undefined)?.success, true)
      const answer = await chain.owner.readContract({
        address: consumer,
        abi: PriceConsumerAbi,
        functionName: 'answers',
        args: [round.requestId],
      })
      assert.equal(answer, 1000n)
      // Paid three revealers; one late reveal still owed; the rest refunded at once.
      assert.equal(await linkBalance(chain, c.link, consumer), consumerBefore - 4n * PAY)
      // e, who committed, reveals late and is paid; its wild value does not agree.
      ok(await c.call(e, 'reveal', [round.roundId, 5000n, eSalt]), 'late reveal e')
      const after = await c.read<{ agreeBitmap: number; escrow: bigint; answer: bigint }>(
        'getRound',
        [round.roundId],
      )
      assert.equal(after.answer, 1000n)
      assert.equal(after.escrow, 0n)
      // agreementBps 100 (1 %): 1000, 1010 and 990 agree; 5000 does not.
      assert.equal(after.agreeBitmap, 0b0111)
      for (const o of c.oracles) {
        const rec = await c.read<{ withdrawable: bigint; reveals: number }>('getOracle', [
          o.address,
        ])
        assert.equal(rec.withdrawable, PAY)
      }
      const before = await linkBalance(chain, c.link, a.address)
      ok(await c.call(a, 'withdraw', [a.address, PAY]), 'withdraw')
      assert.equal(await linkBalance(chain, c.link, a.address), before + PAY)
      assert.equal(await c.revertOf(a, 'withdraw', [a.address, 1n]), 'InsufficientWithdrawable')
    })

    it('refuses bad commits and reveals, each with its named error', async () => {
      const round = await request(consumer, 4n * PAY)
      const [a, b, d] = c.oracles as [Signer, Signer, Signer, Signer]
      const id = round.roundId
      const salt = randomSalt()
      const stranger = { address: chain.stranger.account.address } as Signer
      assert.equal(
        await c.revertOf(stranger, 'commit', [id, toHex(1n, { size: 32 })]),
        'NotCommitteeMember',
      )
      assert.equal(await c.revertOf(a, 'commit', [id, toHex(0n, { size: 32 })]), 'ZeroCommitment')
      assert.equal(
        await c.revertOf(a, 'commit', [id + 99n, toHex(1n, { size: 32 })]),
        'RoundNotOpen',
      )
      ok(await c.call(a, 'commit', [id, c.commitment(a.address, id, 1000n, salt)]), 'commit')
      assert.equal(await c.revertOf(a, 'commit', [id, toHex(1n, { size: 32 })]), 'AlreadyCommitted')
      assert.equal(await c.revertOf(a, 'reveal', [id, 1000n, salt]), 'RevealsNotOpen')
      // b copies a's commitment: it can never open it, with a's value and salt or otherwise.
      const aCommitment = c.commitment(a.address, id, 1000n, salt)
      ok(await c.call(b, 'commit', [id, aCommitment]), 'copied commit')
      const dSalt = randomSalt()
      ok(await c.call(d, 'commit', [id, c.commitment(d.address, id, 1001n, dSalt)]), 'commit d')
      assert.equal(await c.revertOf(a, 'reveal', [id, 1000n, dSalt]), 'InvalidReveal')
      assert.equal(await c.revertOf(a, 'reveal', [id, 0n, salt]), 'ValueOutOfBounds')
      ok(await c.call(a, 'reveal', [id, 1000n, salt]), 'reveal a')
      // The copier replays a's reveal: refused.
      assert.equal(await c.revertOf(b, 'reveal', [id, 1000n, salt]), 'InvalidReveal')
      assert.equal(await c.revertOf(a, 'reveal', [id, 1000n, salt]), 'AlreadyRevealed')
      const e = c.oracles[3] as Signer
      assert.equal(await c.revertOf(e, 'commit', [id, toHex(5n, { size: 32 })]), 'CommitsClosed')
      assert.equal(await c.revertOf(e, 'reveal', [id, 1000n, salt]), 'NotCommitted')
      assert.equal(await c.revertOf(a, 'settle', [id]), 'NotSettleable')
      // d reveals; only two valid reveals (minReveals 3): the round stays open until its
      // deadline, then fails and the requester gets everything not paid to revealers.
      ok(await c.call(d, 'reveal', [id, 1001n, dSalt]), 'reveal d')
      const consumerBefore = await linkBalance(chain, c.link, consumer)
      await increaseTime(chain, 1300)
      assert.equal(await c.revertOf(d, 'reveal', [id, 1001n, dSalt]), 'RevealsClosed')
      const settled = ok(await c.call(e, 'settle', [id]), 'settle')
      assert.deepEqual(
        eventsOf(settled).map((x) => x.eventName),
        ['RoundFailed', 'Refunded'],
      )
      assert.equal(await linkBalance(chain, c.link, consumer), consumerBefore + 2n * PAY)
      assert.equal(await c.revertOf(e, 'settle', [id]), 'NotSettleable')
    })

    it('refuses commitments from another round, aggregator, chain id or config version', async () => {
      const round = await request(consumer, 4n * PAY)
      const id = round.roundId
      const [a, b, d] = c.oracles as [Signer, Signer, Signer]
      const salt = randomSalt()
      const base = {
        chainId: c.chainId,
        aggregator: c.aggregator,
        configVersion: 1,
        roundId: id,
        oracle: a.address,
        value: 1000n,
        salt,
      }
      const wrong: Hex[] = [
        commitmentOf({ ...base, roundId: id + 1n }),
        commitmentOf({ ...base, aggregator: c.link }),
        commitmentOf({ ...base, chainId: 1 }),
        commitmentOf({ ...base, configVersion: 2 }),
        commitmentOf({ ...base, oracle: b.address }),
      ]
      for (const [i, commitment] of wrong.entries()) {
        const oracle = [a, b, d][i % 3] as Signer
        if (i < 3) ok(await c.call(oracle, 'commit', [id, commitment]), 'commit')
      }
      // a, b and d committed the first three wrong commitments: none opens with a's (value, salt).
      for (const oracle of [a, b, d]) {
        assert.equal(await c.revertOf(oracle, 'reveal', [id, 1000n, salt]), 'InvalidReveal')
      }
      const onchain = await c.read<Hex>('commitmentFor', [1, id, a.address, 1000n, salt])
      assert.equal(onchain, commitmentOf(base))
    })

    it('finalises even when the consumer callback reverts, and refuses a reveal without the callback gas', async () => {
      const hostile = await deployContract(chain.owner, {
        name: 'HostileConsumer',
        abi: HostileConsumerAbi,
        bytecode: HostileConsumerBytecode,
        args: [c.link, c.aggregator],
      })
      await fundLink(chain, c.link, hostile, 10n * LINK)
      await send(chain.owner, {
        address: hostile,
        abi: HostileConsumerAbi,
        functionName: 'setMode',
        args: [1],
      })
      const receipt = await send(chain.owner, {
        address: hostile,
        abi: HostileConsumerAbi,
        functionName: 'request',
        args: [4n * PAY, false],
      })
      const { roundId } = startedIn(receipt)
      const [a, b, d] = c.oracles as [Signer, Signer, Signer]
      const salts = await commitAll(c, roundId, [a, b, d], [7n, 8n, 9n])
      ok(await c.call(a, 'reveal', [roundId, 7n, salts[0]]), 'reveal')
      ok(await c.call(b, 'reveal', [roundId, 8n, salts[1]]), 'reveal')
      const starved = await c.call(d, 'reveal', [roundId, 9n, salts[2]], 150_000n)
      assert.equal(starved.status, 'reverted')
      const final = ok(await c.call(d, 'reveal', [roundId, 9n, salts[2]]), 'final reveal')
      const fulfilled = eventsOf(final).find((x) => x.eventName === 'RequestFulfilled')
      assert.equal((fulfilled?.args as { success?: boolean } | undefined)?.success, false)
      const view = await c.read<{ status: number; answer: bigint }>('getRound', [roundId])
      assert.deepEqual([view.status, view.answer], [2, 8n])
    })

    it('refuses requests that pay too little, reuse a request id, or come from elsewhere', async () => {
      await assert.rejects(request(consumer, 4n * PAY - 1n), /reverted|InsufficientPayment/)
      await expectRevert(
        chain.owner,
        {
          address: c.aggregator,
          abi: CommitRevealAggregatorAbi,
          functionName: 'onTokenTransfer',
          args: [chain.owner.account.address, 1n, '0x'],
        },
        'NotLinkToken',
      )
      await expectRevert(
        chain.owner,
        {
          address: c.link,
          abi: LinkTokenAbi,
          functionName: 'transferAndCall',
          args: [c.aggregator, 4n * PAY, '0xdeadbeef'],
        },
        'UnsupportedRequestSelector',
        ['0xdeadbeef'],
      )
      await expectRevert(
        chain.owner,
        {
          address: c.link,
          abi: LinkTokenAbi,
          functionName: 'transferAndCall',
          args: [c.aggregator, 4n * PAY, '0x404299'],
        },
        'RequestDataTooShort',
      )
      // A second oracleRequest with the same requester and nonce: same request id.
      const payload = oracleRequestPayload(chain.owner.account.address, 42n)
      await send(chain.owner, {
        address: c.link,
        abi: LinkTokenAbi,
        functionName: 'transferAndCall',
        args: [c.aggregator, 4n * PAY, payload],
      })
      await expectRevert(
        chain.owner,
        {
          address: c.link,
          abi: LinkTokenAbi,
          functionName: 'transferAndCall',
          args: [c.aggregator, 4n * PAY, payload],
        },
        'DuplicateRequest',
      )
    })
  })

  describe('configuration', () => {
    it('refuses n ≤ 3f, duplicate or zero oracles, bad quorums, windows, bounds and functions', async () => {
      const c = await deployCommittee(chain, { n: 4, f: 1 })
      const [a, b, d, e] = c.config.oracles as [Address, Address, Address, Address]
      const cases: [Partial<Committee['config']>, string][] = [
        [{ f: 2 }, 'CommitteeTooSmall'],
        [{ oracles: [] }, 'InvalidCommitteeSize'],
        [
          { oracles: Array.from({ length: 32 }, (_, i) => toHex(i + 1, { size: 20 })) },
          'InvalidCommitteeSize',
        ],
        [{ oracles: [a, b, d, a] }, 'DuplicateOracle'],
        [{ oracles: [a, b, zeroAddress, e] }, 'ZeroOracle'],
        [{ minReveals: 1 }, 'InvalidMinReveals'],
        [{ minReveals: 4 }, 'InvalidMinReveals'],
        [{ commitWindow: 0 }, 'InvalidWindows'],
        [{ minAnswer: 10n, maxAnswer: 9n }, 'InvalidBounds'],
        [{ aggregation: e }, 'InvalidAggregation'],
        [{ agreementBps: 10_001 }, 'InvalidAgreementBps'],
      ]
      for (const [change, error] of cases) {
        await expectRevert(
          chain.owner,
          {
            address: c.aggregator,
            abi: CommitRevealAggregatorAbi,
            functionName: 'setConfig',
            args: [{ ...c.config, ...change }],
          },
          error,
        )
      }
      await expectRevert(
        chain.stranger,
        {
          address: c.aggregator,
          abi: CommitRevealAggregatorAbi,
          functionName: 'setConfig',
          args: [c.config],
        },
        'NotOwner',
      )
    })

    it('a new configuration strands open rounds: they can only be settled, at once', async () => {
      const c = await deployCommittee(chain, { n: 4, f: 1, feedFunds: 10n * LINK })
      const [a] = c.oracles as [Signer]
      const { roundId } = startedIn(ok(await c.call(a, 'startFeedRound', []), 'start'))
      await send(chain.owner, {
        address: c.aggregator,
        abi: CommitRevealAggregatorAbi,
        functionName: 'setConfig',
        args: [c.config],
      })
      c.configVersion = 2
      const salt = randomSalt()
      assert.equal(
        await c.revertOf(a, 'commit', [roundId, c.commitment(a.address, roundId, 5n, salt)]),
        'RoundNotOpen',
      )
      const funds = await c.read<bigint>('availableFunds')
      ok(await c.call(a, 'settle', [roundId]), 'settle')
      assert.equal(await c.read<bigint>('availableFunds'), funds + 4n * c.config.paymentPerAnswer)
      const [version, config] = await c.read<[number, { oracles: Address[] }]>('latestConfig')
      assert.equal(version, 2)
      assert.deepEqual(config.oracles, c.config.oracles)
    })
  })

  describe('feed', () => {
    it('an unmodified AggregatorV3Interface reader sees round ids, answers and timestamps move', async () => {
      const c = await deployCommittee(chain, { n: 4, f: 1, feedFunds: LINK, maxAnswer: 10n ** 12n })
      const reader = await deployContract(chain.owner, {
        name: 'FeedReader',
        abi: FeedReaderAbi,
        bytecode: FeedReaderBytecode,
        args: [c.aggregator, 3600n],
      })
      const read = () =>
        chain.owner.readContract({ address: reader, abi: FeedReaderAbi, functionName: 'latest' })
      await assert.rejects(read(), /NoDataPresent|reverted/)
      const [a, b, d, e] = c.oracles as [Signer, Signer, Signer, Signer]
      const stranger = { address: chain.stranger.account.address } as Signer
      assert.equal(await c.revertOf(stranger, 'startFeedRound', []), 'NotCommitteeMember')

      const seen: [bigint, bigint, bigint][] = []
      for (const [starter, prices] of [
        [b, [200_000n, 200_100n, 199_900n]],
        [d, [210_000n, 210_000n, 209_000n]],
      ] as const) {
        if (starter === d) {
          // b started the last feed round: with f = 1 it must let one other start first.
          assert.equal(await c.revertOf(b, 'startFeedRound', []), 'FeedRoundStartTooSoon')
        }
        const start = ok(await c.call(starter, 'startFeedRound', []), 'start')
        assert.ok(eventsOf(start).some((x) => x.eventName === 'NewRound'))
        const { roundId } = startedIn(start)
        assert.equal(await c.revertOf(e, 'startFeedRound', []), 'FeedRoundInProgress')
        const salts = await commitAll(c, roundId, [a, b, d], prices)
        for (const [i, o] of [a, b, d].entries()) {
          ok(await c.call(o, 'reveal', [roundId, prices[i], salts[i]]), 'reveal')
        }
        const [rid, answer, startedAt, updatedAt, answeredIn] = await read()
        assert.equal(BigInt(rid), roundId)
        assert.equal(answeredIn, rid)
        assert.ok(updatedAt >= startedAt)
        seen.push([BigInt(rid), answer, updatedAt])
        await increaseTime(chain, 60)
      }
      assert.deepEqual(
        seen.map(([, answer]) => answer),
        [200_000n, 210_000n],
      )
      assert.ok((seen[1] as [bigint, bigint, bigint])[0] > (seen[0] as [bigint, bigint, bigint])[0])
      assert.ok((seen[1] as [bigint, bigint, bigint])[2] > (seen[0] as [bigint, bigint, bigint])[2])
      assert.equal(
        await chain.owner.readContract({
          address: reader,
          abi: FeedReaderAbi,
          functionName: 'price',
        }),
        210_000n * 10n ** 10n,
      )

      // Values above maxAnswer are refused, never clamped: the round cannot finalise, the feed
      // keeps its last answer, and its age shows.
      const { roundId } = startedIn(ok(await c.call(a, 'startFeedRound', []), 'start'))
      const salts = await commitAll(c, roundId, [a, b, d], [10n ** 13n, 10n ** 13n, 10n ** 13n])
      assert.equal(
        await c.revertOf(a, 'reveal', [roundId, 10n ** 13n, salts[0]]),
        'ValueOutOfBounds',
      )
      await increaseTime(chain, 4000)
      const [rid, answer, , updatedAt] = await read()
      assert.deepEqual([BigInt(rid), answer], [seen[1]?.[0], 210_000n])
      const now = (await chain.owner.getBlock()).timestamp
      assert.ok(now - updatedAt > 3600n)
      await assert.rejects(
        chain.owner.readContract({ address: reader, abi: FeedReaderAbi, functionName: 'price' }),
        /StaleAnswer|reverted/,
      )
      // Feed rounds spend the feed's funds; without them no round starts.
      const drained = await deployCommittee(chain, { n: 4, f: 1, link: c.link })
      assert.equal(
        await drained.revertOf(drained.oracles[0] as Signer, 'startFeedRound', []),
        'InsufficientFunds',
      )
    })

    it('majority needs f+1 equal values', async () => {
      const c = await deployCommittee(chain, {
        n: 4,
        f: 1,
        minReveals: 2,
        minAnswer: 0n,
        feedFunds: LINK,
        agreementBps: 0,
      })
      const majority = await deployContract(chain.owner, {
        name: 'MajorityAggregation',
        abi: MajorityAggregationAbi,
        bytecode: MajorityAggregationBytecode,
        args: [2n],
      })
      c.config.aggregation = majority
      await send(chain.owner, {
        address: c.aggregator,
        abi: CommitRevealAggregatorAbi,
        functionName: 'setConfig',
        args: [c.config],
      })
      c.configVersion = 2
      const [a, b, d, e] = c.oracles as [Signer, Signer, Signer, Signer]
      const { roundId } = startedIn(ok(await c.call(a, 'startFeedRound', []), 'start'))
      const values = [1n, 0n, 1n, 0n]
      const salts = await commitAll(c, roundId, [a, b, d, e], values)
      ok(await c.call(a, 'reveal', [roundId, 1n, salts[0]]), 'reveal')
      ok(await c.call(b, 'reveal', [roundId, 0n, salts[1]]), 'reveal')
      type View = { status: number; answer: bigint; agreeBitmap: number }
      let view = await c.read<View>('getRound', [roundId])
      assert.equal(view.status, 1, 'one 1 and one 0: no majority yet')
      ok(await c.call(d, 'reveal', [roundId, 1n, salts[2]]), 'reveal')
      view = await c.read<View>('getRound', [roundId])
      assert.deepEqual([view.status, view.answer, view.agreeBitmap], [2, 1n, 0b101])
    })
  })
})

/** Chainlink's oracleRequest payload as LINK.transferAndCall carries it. */
function oracleRequestPayload(requester: Address, nonce: bigint): Hex {
  return encodeFunctionData({
    abi: OperatorAbi,
    functionName: 'oracleRequest',
    args: [requester, 0n, SPEC_ID, requester, '0x12345678', nonce, 1n, '0x'],
  })
}
