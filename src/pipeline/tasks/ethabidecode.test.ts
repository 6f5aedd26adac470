import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { encodeAbiParameters, getAddress, type Hex, hexToBytes, parseAbiParameters } from 'viem'
import { TaskError } from '../task.ts'
import { testContext } from '../testing.ts'
import { ethabidecodeTask } from './ethabidecode.ts'

const a1 = getAddress('0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266')
const a2 = getAddress('0x70997970c51812dc3a010c7d01b50e0d17dc79c8')
const id = `0x${'cd'.repeat(32)}` as Hex
const priceData = encodeAbiParameters(
  parseAbiParameters('bytes32 requestID, uint256 price, address[] oracles'),
  [id, 123456n, [a1, a2]],
)
const tupleData = encodeAbiParameters(parseAbiParameters('(uint8 a, string s) pair, bool ok'), [
  { a: 9, s: 'x' },
  true,
])

function run(
  params: Record<string, string>,
  vars: Record<string, unknown> = {},
  inputs?: unknown[],
) {
  return ethabidecodeTask.run(
    testContext({ type: 'ethabidecode', params, vars, ...(inputs ? { inputs } : {}) }),
  )
}

describe('ethabidecode', () => {
  const priceMap = { requestID: id, price: 123456n, oracles: [a1, a2] }
  const happy: Array<
    [string, Record<string, string>, Record<string, unknown>, unknown[] | undefined, unknown]
  > = [
    [
      'a bare list (Chainlink docs form)',
      { abi: 'bytes32 requestID, uint256 price, address[] oracles', data: '$(fetch)' },
      { fetch: priceData },
      undefined,
      priceMap,
    ],
    [
      'a parenthesized list with data as bytes',
      { abi: '(bytes32 requestID, uint price, address[] oracles)', data: '$(fetch)' },
      { fetch: hexToBytes(priceData) },
      undefined,
      priceMap,
    ],
    [
      'data from the single input',
      { abi: 'bytes32 requestID, uint256 price, address[] oracles' },
      {},
      [priceData],
      priceMap,
    ],
    [
      'a named tuple and a bool',
      { abi: '(uint8 a, string s) pair, bool ok', data: '$(d)' },
      { d: tupleData },
      undefined,
      { pair: { a: 9n, s: 'x' }, ok: true },
    ],
    [
      'unnamed arguments keyed by position, trailing bytes ignored',
      { abi: 'uint256, address', data: '$(d)' },
      { d: `${encodeAbiParameters(parseAbiParameters('uint256, address'), [1n, a1])}00ff` },
      undefined,
      { '0': 1n, '1': a1 },
    ],
    ['an empty list', { abi: '()', data: '0x' }, {}, undefined, {}],
  ]
  for (const [label, params, vars, inputs, expected] of happy) {
    it(`decodes ${label}`, async () => {
      const result = await run(params, vars, inputs)
      assert.equal(result.error, undefined, result.error?.message)
      assert.deepEqual(result.value, expected)
    })
  }

  const word = (n: bigint) => n.toString(16).padStart(64, '0')
  const failures: Array<
    [string, Record<string, string>, Record<string, unknown>, unknown[] | undefined, RegExp]
  > = [
    [
      'a bad ABI string, named in the error',
      { abi: 'bytes32 id, uint300 price', data: '0x' },
      {},
      undefined,
      /^parameter "abi": invalid ABI "bytes32 id, uint300 price": unknown type "uint300"$/,
    ],
    [
      'data too short for the ABI',
      { abi: 'bytes32 id, uint256 price', data: `0x${word(1n)}` },
      {},
      undefined,
      /^data: does not decode as \(bytes32,uint256\)$/,
    ],
    [
      'an ABI type mismatch: a uint8 whose word holds 256',
      { abi: 'uint8 small', data: `0x${word(256n)}` },
      {},
      undefined,
      /^data\.small: 256 does not fit uint8$/,
    ],
    [
      'an ABI type mismatch: a negative int256 read as int8',
      { abi: 'int8 small', data: `0x${word((1n << 256n) - 1000n)}` },
      {},
      undefined,
      /^data\.small: -1000 does not fit int8$/,
    ],
    [
      'a bytes4 with non-zero padding',
      { abi: 'bytes4 sel', data: `0x${'ab'.repeat(32)}` },
      {},
      undefined,
      /^data: is not a canonical ABI encoding of \(bytes4\)$/,
    ],
    [
      'an invalid bool word',
      { abi: 'bool ok', data: `0x${word(2n)}` },
      {},
      undefined,
      /^data: does not decode as \(bool\)$/,
    ],
    [
      'malformed hex',
      { abi: 'uint256 x', data: '0x12g4' },
      {},
      undefined,
      /^parameter "data": expected 0x-prefixed hex bytes, got the string "0x12g4"$/,
    ],
    [
      'odd-length hex',
      { abi: 'uint256 x', data: '0x123' },
      {},
      undefined,
      /^parameter "data": expected 0x-prefixed hex bytes/,
    ],
    [
      'text that is not hex',
      { abi: 'uint256 x', data: 'hello' },
      {},
      undefined,
      /^parameter "data": expected 0x-prefixed hex bytes, got the string "hello"$/,
    ],
    [
      'no data and no input',
      { abi: 'uint256 x' },
      {},
      undefined,
      /expects exactly one input, got 0/,
    ],
  ]
  for (const [label, params, vars, inputs, pattern] of failures) {
    it(`fails on ${label}`, async () => {
      const result = await run(params, vars, inputs)
      assert.ok(result.error instanceof TaskError, `expected an error, got ${String(result.value)}`)
      assert.match(result.error.shortMessage, pattern)
    })
  }
})
