import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  encodeAbiParameters,
  encodeEventTopics,
  getAddress,
  type Hex,
  hexToBytes,
  keccak256,
  parseAbi,
  toHex,
} from 'viem'
import { OperatorAbi } from '../../../artifacts/abis.ts'
import { TaskError } from '../task.ts'
import { testContext } from '../testing.ts'
import { ethabidecodelogTask } from './ethabidecodelog.ts'

const ORACLE_REQUEST =
  'OracleRequest(bytes32 indexed specId, address requester, bytes32 requestId, uint256 payment, address callbackAddr, bytes4 callbackFunctionId, uint256 cancelExpiration, uint256 dataVersion, bytes data)'

const specId = toHex('7da2702f37fd48e5b1b9a5715e3509b6')
const requester = getAddress('0x90f79bf6eb2c4f870365e785982e1f101e93b906')
const callbackAddr = getAddress('0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc')
const requestId = `0x${'ab'.repeat(32)}` as Hex
const cbor = '0xbf6367657478' as Hex

const oracleTopics = encodeEventTopics({
  abi: OperatorAbi,
  eventName: 'OracleRequest',
  args: { specId },
}) as Hex[]
const oracleData = encodeAbiParameters(
  [
    { type: 'address' },
    { type: 'bytes32' },
    { type: 'uint256' },
    { type: 'address' },
    { type: 'bytes4' },
    { type: 'uint256' },
    { type: 'uint256' },
    { type: 'bytes' },
  ],
  [requester, requestId, 10n ** 17n, callbackAddr, '0x4357855e', 1_700_000_300n, 1n, cbor],
)
const oracleExpected = {
  specId,
  requester,
  requestId,
  payment: 10n ** 17n,
  callbackAddr,
  callbackFunctionId: '0x4357855e',
  cancelExpiration: 1_700_000_300n,
  dataVersion: 1n,
  data: cbor,
}

const transferAbi = parseAbi([
  'event Transfer(address indexed from, address indexed to, uint256 value)',
])
const from = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266'
const to = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8'
const transferTopics = encodeEventTopics({ abi: transferAbi, args: { from, to } }) as Hex[]

const labelTopic = keccak256(toHex('hello'))
const namedTopics = [keccak256(toHex('Named(string,uint8)')), labelTopic]

function run(params: Record<string, string>, vars: Record<string, unknown> = {}) {
  return ethabidecodelogTask.run(
    testContext({ id: 'decode_log', type: 'ethabidecodelog', params, vars }),
  )
}

const LOG = { data: '$(jobRun.logData)', topics: '$(jobRun.logTopics)' }

describe('ethabidecodelog', () => {
  const happy: Array<[string, Record<string, string>, Record<string, unknown>, unknown]> = [
    [
      'the Chainlink OracleRequest log',
      { abi: ORACLE_REQUEST, ...LOG },
      { jobRun: { logData: oracleData, logTopics: oracleTopics } },
      oracleExpected,
    ],
    [
      'data as bytes and topics as bytes',
      { abi: ORACLE_REQUEST, ...LOG },
      {
        jobRun: {
          logData: hexToBytes(oracleData),
          logTopics: oracleTopics.map((t) => hexToBytes(t)),
        },
      },
      oracleExpected,
    ],
    [
      'topics as a JSON array string',
      { abi: ORACLE_REQUEST, data: '$(d)', topics: JSON.stringify(oracleTopics) },
      { d: oracleData },
      oracleExpected,
    ],
    [
      'indexed addresses (checksummed), with the event keyword and comma-separated topics',
      {
        abi: 'event Transfer(address indexed from, address indexed to, uint value)',
        data: encodeAbiParameters([{ type: 'uint256' }], [5n]),
        topics: transferTopics.join(', '),
      },
      {},
      { from: getAddress(from), to: getAddress(to), value: 5n },
    ],
    [
      'an indexed string gives its topic hash; uint8 decodes to bigint',
      {
        abi: 'Named(string indexed label, uint8 n)',
        data: encodeAbiParameters([{ type: 'uint8' }], [7]),
        topics: '$(t)',
      },
      { t: namedTopics },
      { label: labelTopic, n: 7n },
    ],
    [
      'no data parameter when every argument is indexed',
      { abi: 'Ping(bytes32 indexed id)', topics: '$(t)' },
      { t: [keccak256(toHex('Ping(bytes32)')), requestId] },
      { id: requestId },
    ],
  ]
  for (const [label, params, vars, expected] of happy) {
    it(`decodes ${label}`, async () => {
      const result = await run(params, vars)
      assert.equal(result.error, undefined, result.error?.message)
      assert.deepEqual(result.value, expected)
    })
  }

  const oracleVars = { jobRun: { logData: oracleData, logTopics: oracleTopics } }
  const shortData = oracleData.slice(0, oracleData.length - 64)
  const failures: Array<[string, Record<string, string>, Record<string, unknown>, RegExp]> = [
    [
      'a bad ABI string, named in the error',
      { abi: 'OracleRequest(bytes32 indexed specId, uint257 x)', ...LOG },
      oracleVars,
      /^parameter "abi": invalid ABI "OracleRequest\(bytes32 indexed specId, uint257 x\)": unknown type "uint257"$/,
    ],
    [
      'an ABI type mismatch (uint128 payment): topic 0 is another event',
      { abi: ORACLE_REQUEST.replace('uint256 payment', 'uint128 payment'), ...LOG },
      oracleVars,
      /^parameter "topics": topic 0 is not the hash of OracleRequest\(bytes32,address,bytes32,uint128,/,
    ],
    [
      'an argument wrongly marked indexed',
      { abi: ORACLE_REQUEST.replace('address requester', 'address indexed requester'), ...LOG },
      oracleVars,
      /^parameter "topics": expected 3 topics \(the signature and 2 indexed\), got 2$/,
    ],
    [
      'truncated data',
      { abi: ORACLE_REQUEST, data: '$(d)', topics: '$(t)' },
      { d: shortData, t: oracleTopics },
      /^data: does not decode as \(address,bytes32,uint256,address,bytes4,uint256,uint256,bytes\)$/,
    ],
    [
      'malformed hex data',
      { abi: ORACLE_REQUEST, data: '0xzz', topics: '$(t)' },
      { t: oracleTopics },
      /^parameter "data": expected 0x-prefixed hex bytes, got the string "0xzz"$/,
    ],
    [
      'a topic of the wrong length',
      { abi: ORACLE_REQUEST, data: '$(d)', topics: '$(t)' },
      { d: oracleData, t: [oracleTopics[0], '0x1234'] },
      /^topics\[1\]: expected a 32-byte topic, got 2 bytes$/,
    ],
    [
      'a topic that is not hex',
      { abi: ORACLE_REQUEST, data: '$(d)', topics: '$(t)' },
      { d: oracleData, t: [oracleTopics[0], 42] },
      /^topics\[1\]: expected a 32-byte hex topic, got number$/,
    ],
    [
      'no topics',
      { abi: ORACLE_REQUEST, data: '$(d)', topics: '[]' },
      { d: oracleData },
      /^parameter "topics": expected the hash of OracleRequest\(.*\) as topic 0, got no topics$/,
    ],
    [
      'a missing topics parameter',
      { abi: ORACLE_REQUEST, data: '0x' },
      {},
      /^parameter "topics": is required$/,
    ],
    ['a missing abi parameter', { ...LOG }, oracleVars, /^parameter "abi": is required/],
    [
      'an indexed uint8 whose topic does not fit uint8',
      { abi: 'Small(uint8 indexed n)', topics: '$(t)' },
      { t: [keccak256(toHex('Small(uint8)')), toHex(256, { size: 32 })] },
      /^topics\[1\]\.n: 256 does not fit uint8$/,
    ],
    [
      'an address with dirty high bits',
      { abi: 'Who(address who)', data: `0x${'ff'.repeat(12)}${'11'.repeat(20)}`, topics: '$(t)' },
      { t: [keccak256(toHex('Who(address)'))] },
      /^data: is not a canonical ABI encoding of \(address\)$/,
    ],
  ]
  for (const [label, params, vars, pattern] of failures) {
    it(`fails on ${label}`, async () => {
      const result = await run(params, vars)
      assert.ok(result.error instanceof TaskError, `expected an error, got ${String(result.value)}`)
      assert.match(result.error.shortMessage, pattern)
    })
  }
})
