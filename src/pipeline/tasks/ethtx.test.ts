import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { getAddress, type Hex } from 'viem'
import { BaseError } from '../../errors.ts'
import { type TaskDeps, TaskError } from '../task.ts'
import { testContext } from '../testing.ts'
import { ethtxTask, type TxRequest, type TxSink } from './ethtx.ts'

const OPERATOR = '0x613a38AC1659769640aaE063C651F48E0250454C'
const calldata = `0x6ae0bc76${'00'.repeat(32)}` as Hex

/** A sink that records what it is given. */
function recordingSink(
  reply: (req: TxRequest) => Promise<{ id: string }> = async () => ({ id: 'tx-1' }),
) {
  const requests: TxRequest[] = []
  const sink: TxSink = {
    submit(req) {
      requests.push(req)
      return reply(req)
    },
  }
  return { sink, requests }
}

function run(params: Record<string, string>, deps: TaskDeps, vars: Record<string, unknown> = {}) {
  return ethtxTask.run(testContext({ id: 'submit_tx', type: 'ethtx', params, deps, vars }))
}

describe('ethtx', () => {
  const happy: Array<
    [string, Record<string, string>, Record<string, unknown>, Partial<TxRequest>]
  > = [
    [
      'the Chainlink submit_tx with defaults',
      { to: OPERATOR, data: '$(encode_tx)' },
      { encode_tx: calldata },
      {
        to: getAddress(OPERATOR),
        data: calldata,
        minConfirmations: 0,
        evmChainID: 31337n,
        failOnRevert: false,
      },
    ],
    [
      'every parameter, a lowercase address and bytes data',
      {
        to: OPERATOR.toLowerCase(),
        data: '$(payload)',
        gasLimit: '500000',
        minConfirmations: '3',
        evmChainID: '11155111',
        failOnRevert: 'true',
        transmitChecker: '{"CheckerType": "vrf_v2", "VRFCoordinatorAddress": "$(coord)"}',
      },
      { payload: new Uint8Array([0xab, 0xcd]), coord: OPERATOR },
      {
        to: getAddress(OPERATOR),
        data: '0xabcd',
        gasLimit: 500000n,
        minConfirmations: 3,
        evmChainID: 11155111n,
        failOnRevert: true,
        transmitChecker: { CheckerType: 'vrf_v2', VRFCoordinatorAddress: OPERATOR },
      },
    ],
  ]
  for (const [label, params, vars, expected] of happy) {
    it(`hands ${label} to the sink and returns its reply`, async () => {
      const { sink, requests } = recordingSink()
      const result = await run(params, { txSink: sink, evmChainID: 31337n }, vars)
      assert.equal(result.error, undefined, result.error?.message)
      assert.deepEqual(result.value, { id: 'tx-1' })
      assert.deepEqual(requests, [{ ...expected, runId: 'run-1', taskId: 'submit_tx' }])
    })
  }

  it('returns the sink reply as is, extra fields included', async () => {
    const { sink } = recordingSink(async () => ({ id: 'abc', state: 'queued' }) as { id: string })
    const result = await run({ to: OPERATOR, data: '0x' }, { txSink: sink, evmChainID: 1n })
    assert.deepEqual(result.value, { id: 'abc', state: 'queued' })
  })

  const failures: Array<[string, Record<string, string>, TaskDeps | 'sink', string | RegExp]> = [
    [
      'no sink',
      { to: OPERATOR, data: calldata },
      { evmChainID: 1n },
      'no transaction sink is configured for ethtx',
    ],
    [
      'a malformed address',
      { to: '0x613a38AC1659769640aaE063C651F48E025045', data: calldata },
      'sink',
      /^parameter "to": expected a 20-byte hex address/,
    ],
    [
      'a name for to',
      { to: 'operator', data: calldata },
      'sink',
      /^parameter "to": expected a 20-byte hex address, got the string "operator"$/,
    ],
    [
      'the zero address',
      { to: `0x${'0'.repeat(40)}`, data: calldata },
      'sink',
      'parameter "to": is the zero address',
    ],
    [
      'malformed hex data',
      { to: OPERATOR, data: '0xzz' },
      'sink',
      'parameter "data": expected 0x-prefixed hex bytes, got the string "0xzz"',
    ],
    [
      'non-hex data',
      { to: OPERATOR, data: 'hello' },
      'sink',
      'parameter "data": expected 0x-prefixed hex bytes, got the string "hello"',
    ],
    ['missing data', { to: OPERATOR }, 'sink', 'parameter "data": is required'],
    ['missing to', { data: calldata }, 'sink', 'parameter "to": is required'],
    [
      'a zero gasLimit',
      { to: OPERATOR, data: calldata, gasLimit: '0' },
      'sink',
      /^parameter "gasLimit": 0 is out of range/,
    ],
    [
      'a gasLimit beyond uint64',
      { to: OPERATOR, data: calldata, gasLimit: (1n << 64n).toString() },
      'sink',
      /^parameter "gasLimit": 18446744073709551616 is out of range/,
    ],
    [
      'a negative minConfirmations',
      { to: OPERATOR, data: calldata, minConfirmations: '-1' },
      'sink',
      /^parameter "minConfirmations": -1 is out of range/,
    ],
    [
      'a fractional gasLimit',
      { to: OPERATOR, data: calldata, gasLimit: '1.5' },
      'sink',
      /^parameter "gasLimit": expected an integer/,
    ],
    [
      'a bad failOnRevert',
      { to: OPERATOR, data: calldata, failOnRevert: 'yes' },
      'sink',
      /^parameter "failOnRevert": expected true or false/,
    ],
    [
      'invalid transmitChecker JSON',
      { to: OPERATOR, data: calldata, transmitChecker: '{bad' },
      'sink',
      /^parameter "transmitChecker"/,
    ],
    [
      'no chain id at all',
      { to: OPERATOR, data: calldata },
      { txSink: recordingSink().sink },
      'parameter "evmChainID": is required: the job has no default chain id',
    ],
  ]
  for (const [label, params, deps, expected] of failures) {
    it(`fails on ${label}`, async () => {
      const { sink, requests } = recordingSink()
      const result = await run(params, deps === 'sink' ? { txSink: sink, evmChainID: 1n } : deps)
      assert.ok(result.error instanceof TaskError, `expected an error, got ${String(result.value)}`)
      if (typeof expected === 'string') assert.equal(result.error.shortMessage, expected)
      else assert.match(result.error.shortMessage, expected)
      assert.equal(requests.length, 0)
    })
  }

  it('turns a sink failure into a TaskError, keeping its retryability', async () => {
    for (const retryable of [true, false]) {
      const { sink } = recordingSink(async () => {
        throw new BaseError('keystore locked', { retryable })
      })
      const result = await run({ to: OPERATOR, data: calldata }, { txSink: sink, evmChainID: 1n })
      assert.ok(result.error instanceof TaskError)
      assert.match(
        result.error.shortMessage,
        /^submitting the transaction to 0x613a.*failed: keystore locked$/,
      )
      assert.equal(result.error.retryable, retryable)
      assert.ok(result.error.cause instanceof BaseError)
    }
  })

  it('rejects a sink reply without an id', async () => {
    const { sink } = recordingSink(async () => ({}) as { id: string })
    const result = await run({ to: OPERATOR, data: calldata }, { txSink: sink, evmChainID: 1n })
    assert.equal(
      result.error?.shortMessage,
      'the transaction sink replied without a transaction id',
    )
  })
})
