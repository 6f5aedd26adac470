import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type Abi, type AbiEvent, toEventSelector, toFunctionSelector } from 'viem'
import { IERC677ReceiverAbi, LinkTokenAbi, OperatorAbi } from '../../artifacts/abis.ts'

/** The selectors and topics of DESIGN.md §4, which Chainlink's tooling and nodes rely on. */
const FUNCTIONS: [Abi, string, string][] = [
  [LinkTokenAbi, 'transferAndCall', '0x4000aea0'],
  [IERC677ReceiverAbi, 'onTokenTransfer', '0xa4c0ed36'],
  [OperatorAbi, 'onTokenTransfer', '0xa4c0ed36'],
  [OperatorAbi, 'oracleRequest', '0x40429946'],
  [OperatorAbi, 'operatorRequest', '0x3c6d41b9'],
  [OperatorAbi, 'fulfillOracleRequest', '0x4ab0d190'],
  [OperatorAbi, 'fulfillOracleRequest2', '0x6ae0bc76'],
  [OperatorAbi, 'cancelOracleRequest', '0x6ee4d553'],
]

describe('wire compatibility of the ABIs', () => {
  for (const [abi, name, selector] of FUNCTIONS) {
    it(`${name} has selector ${selector}`, () => {
      const fn = abi.find((item) => item.type === 'function' && item.name === name)
      assert.ok(fn, `${name} missing from the ABI`)
      assert.equal(toFunctionSelector(fn as never), selector)
    })
  }

  it('OracleRequest has the topic Chainlink nodes listen for', () => {
    const event = OperatorAbi.find(
      (i) => i.type === 'event' && i.name === 'OracleRequest',
    ) as AbiEvent
    assert.equal(
      toEventSelector(event),
      toEventSelector(
        'OracleRequest(bytes32,address,bytes32,uint256,address,bytes4,uint256,uint256,bytes)',
      ),
    )
    assert.equal(
      toEventSelector(event),
      '0xd8d7ecc4800d25fa53ce0372f13a416d98907a7ef3d8d3bdd79cf4fe75529c65',
    )
    assert.deepEqual(
      event.inputs.map((i) => [i.name, i.type, Boolean(i.indexed)]),
      [
        ['specId', 'bytes32', true],
        ['requester', 'address', false],
        ['requestId', 'bytes32', false],
        ['payment', 'uint256', false],
        ['callbackAddr', 'address', false],
        ['callbackFunctionId', 'bytes4', false],
        ['cancelExpiration', 'uint256', false],
        ['dataVersion', 'uint256', false],
        ['data', 'bytes', false],
      ],
    )
  })

  it('OracleResponse, CancelOracleRequest and the ERC677 Transfer have their signatures', () => {
    const sig = (abi: Abi, name: string, arity: number) =>
      toEventSelector(
        abi.find(
          (i) => i.type === 'event' && i.name === name && i.inputs.length === arity,
        ) as AbiEvent,
      )
    assert.equal(sig(OperatorAbi, 'OracleResponse', 1), toEventSelector('OracleResponse(bytes32)'))
    assert.equal(
      sig(OperatorAbi, 'CancelOracleRequest', 1),
      toEventSelector('CancelOracleRequest(bytes32)'),
    )
    assert.equal(
      sig(LinkTokenAbi, 'Transfer', 4),
      toEventSelector('Transfer(address,address,uint256,bytes)'),
    )
    assert.equal(
      sig(LinkTokenAbi, 'Transfer', 3),
      '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef',
    )
  })
})
