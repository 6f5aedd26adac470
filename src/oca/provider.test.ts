/**
 * The provider (Algorithm 3) fed from real rounds: four members (f = 1) over libp2p on
 * 127.0.0.1, each on its own PGlite; member 4 is a freeloader — it never fetches data (its
 * observation fails) but takes part in every other step, with valid commitments and partials.
 * Each member hands its signed commitment set (at PREPARE) and evidence (at Σ) to the provider,
 * through the JSON form the node's API carries. The provider decides each round by Algorithm 3
 * and settles the bitmaps on an OcaRewards contract on anvil, three rounds per transaction.
 * Checked on chain: every round settled once, in order; the freeloader is owed nothing; each
 * honest member is owed exactly paymentPerRound × the rounds the provider rewarded it.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pino from 'pino'
import type { Address, Hex } from 'viem'
import { LinkTokenAbi, OcaRewardsAbi, OcaRewardsBytecode } from '../../artifacts/abis.ts'
import {
  deployContract,
  deployLinkToken,
  send,
  startTestChain,
  type TestChain,
} from '../chain/testing.ts'
import { type LocalMembers, startLocalMembers } from './local-committee.ts'
import {
  createOcaProvider,
  decodeProviderMessage,
  encodeProviderMessage,
  type OcaProvider,
  type ProviderMessage,
  settleWithViem,
} from './provider.ts'

const N = 4
const FREELOADER = 4
const ROUNDS = 6
const PAYMENT = 10n ** 15n

async function waitFor(what: string, cond: () => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

describe('OCA provider: Algorithm 3 from real rounds, settled on chain', () => {
  let chain: TestChain
  let committee: LocalMembers
  let provider: OcaProvider
  let rewards: Address
  const messages: ProviderMessage[] = []
  const settlements: { first: number; count: number }[] = []

  before(async () => {
    chain = await startTestChain()
    const logger = pino({ level: process.env.OCA_TEST_LOG ?? 'silent' })
    committee = await startLocalMembers({
      n: N,
      f: 1,
      logger,
      startMembers: false,
      observe: async (member, round) => {
        if (member === FREELOADER) throw new Error('a freeloader fetches nothing')
        return 3_000_00000000n + BigInt(round) * 1_000_000n + BigInt(member) * 7n
      },
      timing: {
        phaseTimeoutMs: 3_000,
        roundsPerBatch: ROUNDS,
        viewsPerRound: 2,
        viewTimeoutMs: 3_000,
        transmitStepMs: 100,
      },
      memberDeps: () => ({
        async toProvider(m) {
          messages.push(m)
          // What the node's API carries: the JSON form.
          await provider.receive(decodeProviderMessage(encodeProviderMessage(m)))
        },
      }),
    })
    const link = await deployLinkToken(chain.owner)
    rewards = await deployContract(chain.owner, {
      name: 'OcaRewards',
      abi: OcaRewardsAbi,
      bytecode: OcaRewardsBytecode,
      args: [link, chain.owner.account.address, committee.oracles, PAYMENT],
    })
    await send(chain.owner, {
      address: link,
      abi: LinkTokenAbi,
      functionName: 'transferAndCall',
      args: [rewards, 10n ** 21n, '0x'],
    })
    const key = (await committee.stores[0]!.groupKey(committee.configDigest))!
    const settle = settleWithViem(chain.owner, rewards)
    provider = createOcaProvider(
      {
        logger,
        send: async (first, bitmaps) => {
          await settle(first, bitmaps)
          settlements.push({ first, count: bitmaps.length })
        },
      },
      {
        configDigest: committee.configDigest,
        oracles: committee.oracles,
        f: 1,
        groupKey: key.groupKey,
        shareKeys: key.shareKeys,
        settleEvery: 3,
        closeAfterMs: 4_000,
      },
    )
    for (let i = 1; i <= N; i++) await committee.start(i)
    const ok = await Promise.all(committee.members.map((m) => m!.ensureNonces(1)))
    assert.ok(ok.every(Boolean))
  })

  after(async () => {
    await provider?.stop()
    await committee?.stop()
    await chain?.stop()
  })

  it('rewards only members that observed, committed and revealed; never the freeloader', async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      await Promise.all(committee.members.map((m) => m!.startRound(round)))
      await waitFor(`round ${round} signed`, () => committee.transmitted.has(round), 15_000)
    }
    // Every member that holds Σ sends its evidence; rounds close as they complete.
    await waitFor('rounds decided', () => provider.results().size === ROUNDS, 15_000)
    await provider.flush()
    assert.deepEqual(settlements, [
      { first: 1, count: 3 },
      { first: 4, count: 3 },
    ])
    const read = (functionName: 'lastSettledRound' | 'availableFunds') =>
      chain.owner.readContract({ address: rewards, abi: OcaRewardsAbi, functionName })
    assert.equal(await read('lastSettledRound'), ROUNDS)

    const results = provider.results()
    const rewardedRounds = new Map<number, number>()
    for (let round = 1; round <= ROUNDS; round++) {
      const r = results.get(round)!
      assert.ok(!r.rewarded.includes(FREELOADER), `round ${round}: freeloader rewarded`)
      // Honest members that observed get paid in a fault-free round (2f+1 = 3 observers).
      assert.ok(r.rewarded.length >= 2, `round ${round}: ${r.rewarded} (${r.reason})`)
      for (const j of r.rewarded) rewardedRounds.set(j, (rewardedRounds.get(j) ?? 0) + 1)
    }
    for (let j = 1; j <= N; j++) {
      const owed = await chain.owner.readContract({
        address: rewards,
        abi: OcaRewardsAbi,
        functionName: 'owed',
        args: [committee.oracles[j - 1]!],
      })
      assert.equal(owed, PAYMENT * BigInt(rewardedRounds.get(j) ?? 0), `member ${j}`)
    }
    assert.equal(
      await chain.owner.readContract({
        address: rewards,
        abi: OcaRewardsAbi,
        functionName: 'owed',
        args: [committee.oracles[FREELOADER - 1]!],
      }),
      0n,
    )
    // The freeloader did take part: its commitments and partials reached the provider.
    assert.ok(messages.some((m) => m.kind === 'commitset' && m.member === FREELOADER))
    assert.ok(
      messages.some(
        (m) => m.kind === 'evidence' && m.partials.some((p) => p.member === FREELOADER),
      ),
    )
  })

  it('takes the commitment sets of the view that signed, after a view change', async () => {
    // Member 2 is down (after the key DKG): it leads view 0 of rounds 1 and 5.
    const logger = pino({ level: process.env.OCA_TEST_LOG ?? 'silent' })
    const decided: { round: number; rewarded: number[] }[] = []
    const bitmaps: bigint[] = []
    const views = new Map<number, number>()
    let p: OcaProvider | undefined
    const c = await startLocalMembers({
      n: N,
      f: 1,
      logger,
      startMembers: false,
      timing: {
        phaseTimeoutMs: 1_000,
        roundsPerBatch: 4,
        viewsPerRound: 2,
        viewTimeoutMs: 1_500,
        transmitStepMs: 100,
      },
      memberDeps: () => ({
        async toProvider(m) {
          if (m.kind === 'evidence') views.set(m.round, m.view)
          await p!.receive(m)
        },
      }),
    })
    try {
      const key = (await c.stores[0]!.groupKey(c.configDigest))!
      p = createOcaProvider(
        {
          logger,
          send: async (_first, b) => void bitmaps.push(...b),
          onRound: (r) => decided.push(r),
        },
        {
          configDigest: c.configDigest,
          oracles: c.oracles,
          f: 1,
          groupKey: key.groupKey,
          shareKeys: key.shareKeys,
          closeAfterMs: 60_000,
        },
      )
      const up = [1, 3, 4]
      for (const i of up) await c.start(i)
      assert.ok(
        (await Promise.all(up.map((i) => c.members[i - 1]!.ensureNonces(1)))).every(Boolean),
      )
      for (let round = 1; round <= 2; round++) {
        await Promise.all(up.map((i) => c.members[i - 1]!.startRound(round)))
        await waitFor(`round ${round} signed`, () => c.transmitted.has(round), 15_000)
      }
      await new Promise((r) => setTimeout(r, 300)) // the last messages reach the provider
      await p.closeThrough(2)
      await p.flush()
      const [r1, r2] = [decided.find((d) => d.round === 1)!, decided.find((d) => d.round === 2)!]
      // Round 1 was signed in view 1 (member 2 led view 0): its members are still rewarded.
      assert.ok(!r1.rewarded.includes(2) && r1.rewarded.length === 3, `round 1: ${r1.rewarded}`)
      assert.ok(!r2.rewarded.includes(2) && r2.rewarded.length === 3, `round 2: ${r2.rewarded}`)
      assert.deepEqual(bitmaps, [0b1101n, 0b1101n])
      assert.deepEqual([views.get(1), views.get(2)], [1, 0])
    } finally {
      await p?.stop()
      await c.stop()
    }
  })

  it('refuses messages that another member signed, or that are malformed', async () => {
    const m = messages.find((x) => x.kind === 'commitset' && x.member === 1)!
    const provider2 = createOcaProvider(
      { logger: pino({ level: 'silent' }), send: async () => {} },
      {
        configDigest: committee.configDigest,
        oracles: committee.oracles,
        f: 1,
        groupKey: (await committee.stores[0]!.groupKey(committee.configDigest))!.groupKey,
        shareKeys: (await committee.stores[0]!.groupKey(committee.configDigest))!.shareKeys,
      },
    )
    try {
      assert.equal(await provider2.receive({ ...m, member: 2 }), false)
      assert.equal(await provider2.receive({ ...m, round: m.round + 1 } as ProviderMessage), false)
      assert.equal(await provider2.receive(m), true)
      assert.equal(await provider2.receive(m), false) // a second commitment set for this view
      assert.equal(await provider2.receive({ ...m, view: m.view + 1 }), false) // not what it signed
      assert.throws(
        () => decodeProviderMessage(JSON.stringify({ ...m, extra: 1 })),
        /malformed provider message/,
      )
      assert.throws(
        () => decodeProviderMessage(JSON.stringify({ ...m, message: '0x12' as Hex })),
        /message/,
      )
    } finally {
      await provider2.stop()
    }
  })
})
