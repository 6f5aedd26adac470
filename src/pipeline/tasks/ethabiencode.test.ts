import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  encodeAbiParameters,
  encodeFunctionData,
  getAddress,
  type Hex,
  parseAbi,
  parseAbiParameters,
  toHex,
} from 'viem'
import { parseDecimal } from '../decimal.ts'
import { TaskError } from '../task.ts'
import { testContext } from '../testing.ts'
import { ethabiencodeTask } from './ethabiencode.ts'

const addr = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266'
const id = `0x${'12'.repeat(32)}` as Hex
const jobId = '7da2702f37fd48e5b1b9a5715e3509b6'

function run(params: Record<string, string>, vars: Record<string, unknown> = {}) {
  return ethabiencodeTask.run(testContext({ type: 'ethabiencode', params, vars }))
}

describe('ethabiencode', () => {
  const happy: Array<[string, Record<string, string>, Record<string, unknown>, Hex]> = [
    [
      'a tuple from a JSON template (no selector)',
      {
        abi: '(bytes32 requestId, uint256 value)',
        data: '{ "requestId": $(id), "value": $(v) }',
      },
      { id, v: parseDecimal('4200.0') },
      encodeAbiParameters(parseAbiParameters('bytes32 requestId, uint256 value'), [id, 4200n]),
    ],
    [
      'a function call: selector + args, calldata dropped, any-case address',
      {
        abi: 'transferAndCall(address to, uint value, bytes calldata data)',
        data: '{"to": "$(to)", "value": "1000000000000000000", "data": $(payload)}',
      },
      { to: addr.toUpperCase().replace('0X', '0x'), payload: new Uint8Array([1, 2, 3]) },
      encodeFunctionData({
        abi: parseAbi(['function transferAndCall(address to, uint256 value, bytes data)']),
        args: [getAddress(addr), 10n ** 18n, '0x010203'],
      }),
    ],
    [
      'data given as a reference to a map; extra keys ignored',
      { abi: 'f(bool ok, int8 n, string s)', data: '$(m)' },
      {
        m: new Map<string, unknown>([
          ['ok', 'true'],
          ['n', -5],
          ['s', 'hé'],
          ['extra', 1],
        ]),
      },
      encodeFunctionData({
        abi: parseAbi(['function f(bool ok, int8 n, string s)']),
        args: [true, -5, 'hé'],
      }),
    ],
    [
      'a positional array for unnamed arguments',
      { abi: '(uint256, address)', data: '[7, "$(a)"]' },
      { a: addr },
      encodeAbiParameters(parseAbiParameters('uint256, address'), [7n, getAddress(addr)]),
    ],
    [
      'arrays and a nested tuple',
      {
        abi: '((uint8 a, bool b)[] items, bytes32 jobId, uint256[2] pair)',
        data: `{"items": [{"a": 1, "b": true}, [2, false]], "jobId": "${jobId}", "pair": [1, "0x02"]}`,
      },
      {},
      encodeAbiParameters(
        parseAbiParameters('(uint8 a, bool b)[] items, bytes32 jobId, uint256[2] pair'),
        [
          [
            { a: 1, b: true },
            { a: 2, b: false },
          ],
          toHex(jobId),
          [1n, 2n],
        ],
      ),
    ],
    [
      'a function without arguments and no data',
      { abi: 'ping()' },
      {},
      encodeFunctionData({ abi: parseAbi(['function ping()']) }),
    ],
  ]
  for (const [label, params, vars, expected] of happy) {
    it(`encodes ${label}`, async () => {
      const result = await run(params, vars)
      assert.equal(result.error, undefined, result.error?.message)
      assert.equal(result.value, expected)
    })
  }

  const failures: Array<
    [string, Record<string, string>, Record<string, unknown>, string | RegExp]
  > = [
    [
      'a bad ABI string, named in the error',
      { abi: 'fulfill(bytes32 requestId, uint257 value)', data: '{}' },
      {},
      /^parameter "abi": invalid ABI "fulfill\(bytes32 requestId, uint257 value\)": unknown type "uint257"$/,
    ],
    [
      'a missing field',
      { abi: '(bytes32 requestId, uint256 value)', data: '{"requestId": "$(id)"}' },
      { id },
      'data.value: is missing (uint256)',
    ],
    [
      'uint8 = 256',
      { abi: '(uint8 value)', data: '{"value": 256}' },
      {},
      'data.value: 256 does not fit uint8',
    ],
    [
      'a negative uint',
      { abi: '(uint256 value)', data: '{"value": $(v)}' },
      { v: -1n },
      'data.value: -1 does not fit uint256',
    ],
    [
      'a fractional uint',
      { abi: '(uint256 value)', data: '{"value": 1.5}' },
      {},
      'data.value: 1.5 is not an integer (uint256)',
    ],
    [
      'an ABI type mismatch: a string for an address',
      { abi: 'f(address to)', data: '{"to": "alice"}' },
      {},
      'data.to: expected a 20-byte hex address, got the string "alice"',
    ],
    [
      'an ABI type mismatch: an object for uint',
      { abi: 'f(uint256 x)', data: '{"x": {"y": 1}}' },
      {},
      'data.x: expected an integer for uint256, got Object',
    ],
    [
      'bytes32 of the wrong length',
      { abi: '(bytes32 requestId)', data: '{"requestId": "0x1234"}' },
      {},
      'data.requestId: expected exactly 32 bytes for bytes32, got 2',
    ],
    [
      'a short string for bytes32 (no padding)',
      { abi: '(bytes32 specId)', data: '{"specId": "abc"}' },
      {},
      'data.specId: expected exactly 32 bytes for bytes32, got 3',
    ],
    [
      'malformed hex for bytes',
      { abi: '(bytes data)', data: '{"data": "0xnothex"}' },
      {},
      'data.data: the string "0xnothex" is not valid hex',
    ],
    [
      'a nested path',
      {
        abi: '((uint8 a, bool b)[] items)',
        data: '{"items": [{"a": 1, "b": true}, {"a": 999, "b": true}]}',
      },
      {},
      'data.items[1].a: 999 does not fit uint8',
    ],
    [
      'data that is not a map',
      { abi: '(uint256 x)', data: '"hello"' },
      {},
      'data: expected an object of arguments, got the string "hello"',
    ],
    [
      'invalid JSON data',
      { abi: '(uint256 x)', data: '{"x": }' },
      {},
      /^parameter "data": the JSON template is not valid JSON$/,
    ],
    ['missing data with arguments', { abi: '(uint256 x)' }, {}, /^parameter "data": is required$/],
    [
      'an unnamed argument with a map',
      { abi: '(uint256)', data: '{"x": 1}' },
      {},
      /^data: argument 0 \(uint256\) has no name/,
    ],
  ]
  for (const [label, params, vars, expected] of failures) {
    it(`fails on ${label}`, async () => {
      const result = await run(params, vars)
      assert.ok(result.error instanceof TaskError, `expected an error, got ${String(result.value)}`)
      if (typeof expected === 'string') assert.equal(result.error.shortMessage, expected)
      else assert.match(result.error.shortMessage, expected)
    })
  }
})
