import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { type Address, getAddress, type Hex, parseEventLogs, toHex } from 'viem'
import { ReputationAbi, ReputationBytecode } from '../../artifacts/abis.ts'
import {
  deployContract,
  expectRevert,
  send,
  startTestChain,
  type TestChain,
} from '../../src/chain/testing.ts'

const SPEC = toHex('spec-a', { size: 32 })
const OTHER_SPEC = toHex('spec-b', { size: 32 })

type Outcome = {
  oracle: Address
  completed: boolean
  accepted: boolean
  responseSeconds: number
  penalty: bigint
}

describe('Reputation', () => {
  let chain: TestChain
  let reputation: Address
  let writer: Address
  const oracleA = getAddress('0x00000000000000000000000000000000000000a1')
  const oracleB = getAddress('0x00000000000000000000000000000000000000b2')

  before(async () => {
    chain = await startTestChain()
    reputation = await deployContract(chain.owner, {
      name: 'Reputation',
      abi: ReputationAbi,
      bytecode: ReputationBytecode,
      args: [chain.owner.account.address],
    })
    writer = chain.node.account.address
    await send(chain.owner, {
      address: reputation,
      abi: ReputationAbi,
      functionName: 'setWriter',
      args: [writer, true],
    })
  })
  after(async () => {
    await chain?.stop()
  })

  const read = <T>(functionName: string, args: readonly unknown[]) =>
    chain.owner.readContract({
      address: reputation,
      abi: ReputationAbi,
      functionName,
      args,
    } as never) as Promise<T>

  const assign = (oracles: Address[], deposit: bigint, spec: Hex = SPEC) =>
    send(chain.node, {
      address: reputation,
      abi: ReputationAbi,
      functionName: 'recordAssignments',
      args: [spec, oracles, deposit],
    })
  const outcomes = (list: Outcome[], spec: Hex = SPEC) =>
    send(chain.node, {
      address: reputation,
      abi: ReputationAbi,
      functionName: 'recordOutcomes',
      args: [spec, list],
    })

  it('only writers record; only the owner names writers', async () => {
    const params = {
      address: reputation,
      abi: ReputationAbi,
      functionName: 'recordAssignments',
      args: [SPEC, [oracleA], 1n],
    } as const
    await expectRevert(chain.stranger, params, 'NotWriter', [chain.stranger.account.address])
    await expectRevert(
      chain.stranger,
      {
        address: reputation,
        abi: ReputationAbi,
        functionName: 'recordOutcomes',
        args: [SPEC, []],
      },
      'NotWriter',
    )
    await expectRevert(
      chain.stranger,
      {
        address: reputation,
        abi: ReputationAbi,
        functionName: 'setWriter',
        args: [chain.stranger.account.address, true],
      },
      'NotOwner',
    )
    await expectRevert(
      chain.owner,
      {
        address: reputation,
        abi: ReputationAbi,
        functionName: 'setWriter',
        args: ['0x0000000000000000000000000000000000000000', true],
      },
      'ZeroAddress',
    )
    assert.equal(await read('isWriter', [writer]), true)
    assert.equal(await read('isWriter', [chain.stranger.account.address]), false)
    // A writer removed can no longer record.
    const outsider = chain.outsider.account.address
    await send(chain.owner, {
      address: reputation,
      abi: ReputationAbi,
      functionName: 'setWriter',
      args: [outsider, true],
    })
    await send(chain.outsider, params)
    await send(chain.owner, {
      address: reputation,
      abi: ReputationAbi,
      functionName: 'setWriter',
      args: [outsider, false],
    })
    await expectRevert(chain.outsider, params, 'NotWriter')
  })

  it('records assignments and outcomes per oracle and spec, derives rates, average time and score, and logs every write', async () => {
    const a = '0x00000000000000000000000000000000000000c3' as Address
    const b = '0x00000000000000000000000000000000000000d4' as Address
    // Never assigned: all zero, score 0.
    assert.equal(await read('score', [a, SPEC]), 0n)
    const assigned = await assign([a, b], 5n)
    const assignedEvents = parseEventLogs({ abi: ReputationAbi, logs: assigned.logs })
    assert.deepEqual(
      assignedEvents.map((e) => e.eventName),
      ['Assigned', 'Assigned'],
    )
    await assign([a], 7n)
    const recorded = await outcomes([
      { oracle: a, completed: true, accepted: true, responseSeconds: 10, penalty: 0n },
      { oracle: b, completed: false, accepted: false, responseSeconds: 0, penalty: 5n },
    ])
    const outcomeEvents = parseEventLogs({
      abi: ReputationAbi,
      logs: recorded.logs,
      eventName: 'OutcomeRecorded',
    })
    assert.equal(outcomeEvents.length, 2)
    assert.equal(outcomeEvents[1]?.args.penalty, 5n)
    await outcomes([
      { oracle: a, completed: true, accepted: false, responseSeconds: 20, penalty: 0n },
    ])

    const rec = await read<Record<string, unknown>>('getRecord', [a, SPEC])
    assert.deepEqual(rec, {
      assigned: 2,
      completed: 2,
      accepted: 1,
      missed: 0,
      depositsLocked: 12n,
      totalResponseSeconds: 30n,
      penaltiesPaid: 0n,
    })
    assert.equal(await read('completionRateBps', [a, SPEC]), 10_000n)
    assert.equal(await read('accuracyRateBps', [a, SPEC]), 5_000n)
    assert.equal(await read('averageResponseSeconds', [a, SPEC]), 15n)
    // 1 accepted of 2 outcomes, prior 3: 10,000 / 5.
    assert.equal(await read('score', [a, SPEC]), 2_000n)
    const recB = await read<{ missed: number; penaltiesPaid: bigint }>('getRecord', [b, SPEC])
    assert.equal(recB.missed, 1)
    assert.equal(recB.penaltiesPaid, 5n)
    assert.equal(await read('completionRateBps', [b, SPEC]), 0n)
    assert.equal(await read('accuracyRateBps', [b, SPEC]), 0n)
    assert.equal(await read('averageResponseSeconds', [b, SPEC]), 0n)
    // Per spec: nothing leaks into another spec.
    assert.equal(await read('score', [a, OTHER_SPEC]), 0n)
    // Several at once, in the order asked.
    assert.deepEqual(await read('scores', [[b, a, oracleB], SPEC]), [0n, 2_000n, 0n])
    const records = await read<{ assigned: number }[]>('getRecords', [[b, a], SPEC])
    assert.deepEqual(
      records.map((r) => r.assigned),
      [1, 2],
    )
  })

  it('refuses inconsistent outcomes', async () => {
    for (const bad of [
      { completed: false, accepted: true, responseSeconds: 0 },
      { completed: false, accepted: false, responseSeconds: 3 },
    ]) {
      await expectRevert(
        chain.node,
        {
          address: reputation,
          abi: ReputationAbi,
          functionName: 'recordOutcomes',
          args: [SPEC, [{ oracle: oracleA, penalty: 0n, ...bad }]],
        },
        'InvalidOutcome',
        [oracleA],
      )
    }
  })

  it('score: 0 when never assigned, below 10,000, more accepted answers never lower it', async () => {
    const cases = fc.sample(
      fc.record({
        accepted: fc.nat({ max: 40 }),
        wrong: fc.nat({ max: 20 }),
        missed: fc.nat({ max: 20 }),
      }),
      { numRuns: 6, seed: 8 },
    )
    let i = 0
    for (const c of cases) {
      const oracle = `0x${(0xe000 + i++).toString(16).padStart(40, '0')}` as Address
      const list: Outcome[] = []
      for (let k = 0; k < c.accepted; k++)
        list.push({ oracle, completed: true, accepted: true, responseSeconds: 1, penalty: 0n })
      for (let k = 0; k < c.wrong; k++)
        list.push({ oracle, completed: true, accepted: false, responseSeconds: 1, penalty: 0n })
      for (let k = 0; k < c.missed; k++)
        list.push({ oracle, completed: false, accepted: false, responseSeconds: 0, penalty: 1n })
      if (list.length > 0) await outcomes(list)
      const expected = BigInt(
        Math.floor((c.accepted * 10_000) / (c.accepted + c.wrong + c.missed + 3)),
      )
      const score = await read<bigint>('score', [oracle, SPEC])
      assert.equal(score, expected, JSON.stringify(c))
      assert.ok(score < 10_000n)
      await outcomes([{ oracle, completed: true, accepted: true, responseSeconds: 1, penalty: 0n }])
      assert.ok((await read<bigint>('score', [oracle, SPEC])) >= score)
    }
  })
})
