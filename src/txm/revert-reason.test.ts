import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { encodeErrorResult, type Hex, parseAbi } from 'viem'
import { OperatorAbi } from '../../artifacts/abis.ts'
import { decodeRevertData, revertDataOf } from './revert-reason.ts'

describe('decodeRevertData', () => {
  it('decodes Orakel custom errors', () => {
    const caller = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
    const data = encodeErrorResult({ abi: OperatorAbi, errorName: 'NotOwner', args: [caller] })
    assert.equal(decodeRevertData(data), `NotOwner(${caller})`)
    const many = encodeErrorResult({
      abi: OperatorAbi,
      errorName: 'InsufficientWithdrawable',
      args: [5n, 1n],
    })
    assert.equal(decodeRevertData(many), 'InsufficientWithdrawable(5, 1)')
  })

  it('decodes Error(string) and Panic(uint256)', () => {
    const abi = parseAbi(['error Error(string)', 'error Panic(uint256)'])
    assert.equal(
      decodeRevertData(encodeErrorResult({ abi, errorName: 'Error', args: ['not allowed'] })),
      'not allowed',
    )
    assert.equal(
      decodeRevertData(encodeErrorResult({ abi, errorName: 'Panic', args: [0x11n] })),
      'panic 0x11 (arithmetic underflow or overflow)',
    )
  })

  it('keeps unknown data as hex, and names an empty revert', () => {
    assert.equal(decodeRevertData('0xdeadbeef'), '0xdeadbeef')
    assert.equal(decodeRevertData('0x'), 'reverted without a reason')
  })

  it('uses a caller ABI for foreign errors', () => {
    const abi = parseAbi(['error Nope(uint8 code)'])
    const data = encodeErrorResult({ abi, errorName: 'Nope', args: [7] })
    assert.equal(decodeRevertData(data, abi), 'Nope(7)')
  })
})

describe('revertDataOf', () => {
  it('finds the data wherever a client put it', () => {
    const data = '0x1234' as Hex
    assert.equal(revertDataOf({ data }), data)
    assert.equal(revertDataOf(new Error('x', { cause: { data: { data } } })), data)
    assert.equal(revertDataOf(new Error('no data')), undefined)
  })
})
