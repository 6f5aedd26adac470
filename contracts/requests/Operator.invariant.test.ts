import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { type Address, encodeAbiParameters, type Hex, parseEventLogs, toHex } from 'viem'
import {
  LinkTokenAbi,
  OperatorAbi,
  PriceConsumerAbi,
  PriceConsumerBytecode,
} from '../../artifacts/abis.ts'
import {
  deployContract,
  deployTestCore,
  expectRevert,
  fundLink,
  increaseTime,
  LINK,
  linkBalance,
  send,
  startTestChain,
  type TestChain,
} from '../../src/chain/testing.ts'

/**
 * Model-based fuzzing of the Operator's accounting: random sequences of requests (v1/v2),
 * fulfilments (valid and invalid), cancellations, withdrawals, stray transfers and clock
 * jumps, checked after every step against a model:
 *   LINK.balanceOf(operator) == withdrawable() + committed (open requests) + stray transfers
 *   withdrawable() == what the model says was earned and not withdrawn.
 */
type Action =
  | { kind: 'request'; payment: bigint; v2: boolean }
  | { kind: 'fulfil'; pick: number; wrong: 'none' | 'payment' | 'sender' }
  | { kind: 'cancel'; pick: number }
  | { kind: 'warp'; seconds: number }
  | { kind: 'withdraw'; share: number }
  | { kind: 'stray'; amount: bigint }

const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('request' as const),
      payment: fc.bigInt({ min: 0n, max: 3n * LINK }),
      v2: fc.boolean(),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('fulfil' as const),
      pick: fc.nat(),
      wrong: fc.constantFrom(
        'none' as const,
        'none' as const,
        'payment' as const,
        'sender' as const,
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('warp' as const),
      seconds: fc.integer({ min: 1, max: 400 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('withdraw' as const),
      share: fc.double({ min: 0, max: 1.5, noNaN: true }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('stray' as const),
      amount: fc.bigInt({ min: 1n, max: LINK }),
    }),
  },
)

type Open = {
  requestId: Hex
  payment: bigint
  callbackFunctionId: Hex
  expiration: bigint
  v2: boolean
}

describe('Operator accounting invariant (fast-check on anvil)', () => {
  let chain: TestChain
  before(async () => {
    chain = await startTestChain()
  })
  after(async () => {
    await chain?.stop()
  })

  it('balance == withdrawable + committed (+ stray), withdrawable == earned', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 18 }), async (actions) => {
        const core = await deployTestCore(chain)
        const consumer: Address = await deployContract(chain.owner, {
          name: 'PriceConsumer',
          abi: PriceConsumerAbi,
          bytecode: PriceConsumerBytecode,
          args: [core.linkToken, core.operator],
        })
        await fundLink(chain, core.linkToken, consumer, 100n * LINK)
        const open: Open[] = []
        let earned = 0n
        let stray = 0n

        const check = async () => {
          const balance = await linkBalance(chain, core.linkToken, core.operator)
          const withdrawable = await chain.owner.readContract({
            address: core.operator,
            abi: OperatorAbi,
            functionName: 'withdrawable',
          })
          const committed = open.reduce((sum, r) => sum + r.payment, 0n)
          assert.equal(withdrawable, earned, 'withdrawable differs from the model')
          assert.equal(
            balance,
            withdrawable + committed + stray,
            'balance != earned + committed + stray',
          )
        }

        for (const a of actions) {
          if (a.kind === 'request') {
            const receipt = await send(chain.owner, {
              address: consumer,
              abi: PriceConsumerAbi,
              functionName: 'requestValue',
              args: [toHex('job', { size: 32 }), a.payment, 'http://x', 'p', 1n, a.v2],
            })
            const [log] = parseEventLogs({
              abi: OperatorAbi,
              logs: receipt.logs,
              eventName: 'OracleRequest',
            })
            assert.ok(log)
            open.push({
              requestId: log.args.requestId,
              payment: log.args.payment,
              callbackFunctionId: log.args.callbackFunctionId,
              expiration: log.args.cancelExpiration,
              v2: a.v2,
            })
          } else if (a.kind === 'fulfil' && open.length > 0) {
            const i = a.pick % open.length
            const r = open[i]!
            const data = encodeAbiParameters(
              [{ type: 'bytes32' }, { type: 'uint256' }],
              [r.requestId, 5n],
            )
            const call = {
              address: core.operator,
              abi: OperatorAbi,
              functionName: 'fulfillOracleRequest2',
              args: [
                r.requestId,
                a.wrong === 'payment' ? r.payment + 1n : r.payment,
                consumer,
                r.callbackFunctionId,
                r.expiration,
                data,
              ],
            } as const
            if (a.wrong === 'payment') {
              await expectRevert(chain.node, call, 'RequestParamsMismatch')
            } else if (a.wrong === 'sender') {
              await expectRevert(chain.stranger, call, 'UnauthorizedSender')
            } else {
              await send(chain.node, call)
              open.splice(i, 1)
              earned += r.payment
            }
          } else if (a.kind === 'cancel' && open.length > 0) {
            const i = a.pick % open.length
            const r = open[i]!
            const call = {
              address: consumer,
              abi: PriceConsumerAbi,
              functionName: 'cancel',
              args: [r.requestId, r.payment, r.expiration],
            } as const
            const now = (await chain.owner.getBlock()).timestamp
            // The cancel is mined in a later block, one second on at least.
            if (now + 1n < r.expiration) {
              await expectRevert(chain.owner, call, 'RequestNotExpired')
            } else if (now >= r.expiration) {
              await send(chain.owner, call)
              open.splice(i, 1)
            }
          } else if (a.kind === 'warp') {
            await increaseTime(chain, a.seconds)
          } else if (a.kind === 'withdraw') {
            const amount = (earned * BigInt(Math.round(a.share * 1000))) / 1000n
            const call = {
              address: core.operator,
              abi: OperatorAbi,
              functionName: 'withdraw',
              args: [chain.owner.account.address, amount],
            } as const
            if (amount > earned) {
              await expectRevert(chain.owner, call, 'InsufficientWithdrawable')
            } else {
              await send(chain.owner, call)
              earned -= amount
            }
          } else if (a.kind === 'stray') {
            await send(chain.owner, {
              address: core.linkToken,
              abi: LinkTokenAbi,
              functionName: 'transfer',
              args: [core.operator, a.amount],
            })
            stray += a.amount
          }
          await check()
        }
      }),
      {
        numRuns: 12,
        seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31),
        endOnFailure: true,
      },
    )
  })
})
