import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { type Address, encodeFunctionData, parseEventLogs } from 'viem'
import {
  LinkTokenAbi,
  LinkTokenBytecode,
  OcaRewardsAbi,
  OcaRewardsBytecode,
} from '../../artifacts/abis.ts'
import { fundedSigners, type Signer } from '../../src/chain/commit-reveal-testing.ts'
import {
  deployContract,
  expectRevert,
  fundLink,
  linkBalance,
  send,
  startTestChain,
  type TestChain,
} from '../../src/chain/testing.ts'

const PAY = 10n ** 15n

describe('OcaRewards (Algorithm 3 settlement)', () => {
  let chain: TestChain
  let link: Address
  let members: Signer[]
  before(async () => {
    chain = await startTestChain()
    link = await deployContract(chain.owner, {
      name: 'LinkToken',
      abi: LinkTokenAbi,
      bytecode: LinkTokenBytecode,
      args: [],
    })
    members = await fundedSigners(chain, 4)
  })
  after(async () => {
    await chain?.stop()
  })

  async function deploy(funds: bigint): Promise<Address> {
    const rewards = await deployContract(chain.owner, {
      name: 'OcaRewards',
      abi: OcaRewardsAbi,
      bytecode: OcaRewardsBytecode,
      args: [link, chain.owner.account.address, members.map((m) => m.address), PAY],
    })
    if (funds > 0n) {
      await send(chain.owner, {
        address: link,
        abi: LinkTokenAbi,
        functionName: 'transferAndCall',
        args: [rewards, funds, '0x'],
      })
    }
    return rewards
  }
  const settle = (rewards: Address, first: number, bitmaps: bigint[]) =>
    ({
      address: rewards,
      abi: OcaRewardsAbi,
      functionName: 'settle',
      args: [first, bitmaps],
    }) as const
  const owed = (rewards: Address, who: Address) =>
    chain.owner.readContract({
      address: rewards,
      abi: OcaRewardsAbi,
      functionName: 'owed',
      args: [who],
    })

  it('settles a batch of rounds in order, each member credited for the rounds it earned', async () => {
    const rewards = await deploy(100n * PAY)
    const receipt = await send(chain.owner, settle(rewards, 1, [0b1111n, 0b0111n, 0b1011n]))
    const [settled] = parseEventLogs({
      abi: OcaRewardsAbi,
      logs: receipt.logs,
      eventName: 'Settled',
    })
    assert.deepEqual(settled?.args, { firstRound: 1, count: 3, paid: 10n * PAY })
    const earned = await Promise.all(members.map((m) => owed(rewards, m.address)))
    assert.deepEqual(earned, [3n * PAY, 3n * PAY, 2n * PAY, 2n * PAY])
    assert.equal(
      await chain.owner.readContract({
        address: rewards,
        abi: OcaRewardsAbi,
        functionName: 'lastSettledRound',
      }),
      3,
    )
    assert.equal(
      await chain.owner.readContract({
        address: rewards,
        abi: OcaRewardsAbi,
        functionName: 'availableFunds',
      }),
      90n * PAY,
    )
    // Rounds are settled once, in order.
    await expectRevert(chain.owner, settle(rewards, 3, [1n]), 'RoundOutOfOrder', [3, 4])
    await expectRevert(chain.owner, settle(rewards, 5, [1n]), 'RoundOutOfOrder', [5, 4])
    await expectRevert(chain.owner, settle(rewards, 4, [0b10000n]), 'UnknownMember', [4n, 16n])
    await expectRevert(chain.stranger, settle(rewards, 4, [1n]), 'NotOwner')
    await expectRevert(
      chain.owner,
      settle(rewards, 4, Array(23).fill(0b1111n)),
      'InsufficientFunds',
      [90n * PAY, 92n * PAY],
    )
    // A member withdraws what it is owed, no more.
    const m = members[0]!
    const before = await linkBalance(chain, link, m.address)
    const w = await m.send(
      rewards,
      encodeFunctionData({
        abi: OcaRewardsAbi,
        functionName: 'withdraw',
        args: [m.address, 3n * PAY],
      }),
    )
    assert.equal(w.status, 'success')
    assert.equal(await linkBalance(chain, link, m.address), before + 3n * PAY)
    const again = await m.send(
      rewards,
      encodeFunctionData({ abi: OcaRewardsAbi, functionName: 'withdraw', args: [m.address, 1n] }),
      200_000n,
    )
    assert.equal(again.status, 'reverted')
  })

  it('invariant: LINK held = available + owed (+ stray); every round settled exactly once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({
              kind: fc.constant('settle' as const),
              skip: fc.integer({ min: -1, max: 1 }),
              bitmaps: fc.array(fc.bigInt({ min: 0n, max: 31n }), { maxLength: 6 }),
            }),
            fc.record({
              kind: fc.constant('withdraw' as const),
              member: fc.integer({ min: 0, max: 3 }),
              all: fc.boolean(),
            }),
            fc.record({
              kind: fc.constant('fund' as const),
              amount: fc.bigInt({ min: 1n, max: 10n * PAY }),
            }),
            fc.record({
              kind: fc.constant('stray' as const),
              amount: fc.bigInt({ min: 1n, max: PAY }),
            }),
          ),
          { minLength: 5, maxLength: 20 },
        ),
        async (actions) => {
          const rewards = await deploy(20n * PAY)
          let stray = 0n
          let settledRounds = 0
          for (const a of actions) {
            if (a.kind === 'settle') {
              const last = await chain.owner.readContract({
                address: rewards,
                abi: OcaRewardsAbi,
                functionName: 'lastSettledRound',
              })
              const first = last + 1 + a.skip
              const available = await chain.owner.readContract({
                address: rewards,
                abi: OcaRewardsAbi,
                functionName: 'availableFunds',
              })
              const bits = (b: bigint) => [...b.toString(2)].filter((c) => c === '1').length
              const paid = BigInt(a.bitmaps.reduce((sum, b) => sum + bits(b), 0)) * PAY
              const valid = a.skip === 0 && a.bitmaps.every((b) => b <= 15n) && paid <= available
              const hash = await chain.owner.writeContract({
                ...settle(rewards, Math.max(first, 0), a.bitmaps),
                gas: 1_000_000n,
              })
              const r = await chain.owner.waitForTransactionReceipt({ hash })
              assert.equal(r.status === 'success', valid, 'settle succeeds exactly when valid')
              if (valid) settledRounds += a.bitmaps.length
            } else if (a.kind === 'withdraw') {
              const m = members[a.member]!
              const due = await owed(rewards, m.address)
              await m.send(
                rewards,
                encodeFunctionData({
                  abi: OcaRewardsAbi,
                  functionName: 'withdraw',
                  args: [m.address, a.all ? due : due / 2n],
                }),
                200_000n,
              )
            } else if (a.kind === 'fund') {
              await send(chain.owner, {
                address: link,
                abi: LinkTokenAbi,
                functionName: 'transferAndCall',
                args: [rewards, a.amount, '0x'],
              })
            } else {
              await fundLink(chain, link, rewards, a.amount)
              stray += a.amount
            }
            const [held, available, ...dues] = await Promise.all([
              linkBalance(chain, link, rewards),
              chain.owner.readContract({
                address: rewards,
                abi: OcaRewardsAbi,
                functionName: 'availableFunds',
              }),
              ...members.map((m) => owed(rewards, m.address)),
            ])
            assert.equal(held, available + dues.reduce((x, y) => x + y, 0n) + stray)
          }
          const last = await chain.owner.readContract({
            address: rewards,
            abi: OcaRewardsAbi,
            functionName: 'lastSettledRound',
          })
          assert.equal(last, settledRounds, 'rounds settled = rounds paid for, each once')
        },
      ),
      { numRuns: 15 },
    )
  })
})
