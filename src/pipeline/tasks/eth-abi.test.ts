import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  type AbiParameter,
  encodeAbiParameters,
  encodeEventTopics,
  encodeFunctionData,
  getAddress,
  type Hex,
  parseAbiParameters,
  toFunctionSelector,
} from 'viem'
import { OperatorAbi } from '../../../artifacts/abis.ts'
import { Decimal, parseDecimal } from '../decimal.ts'
import { TaskError } from '../task.ts'
import { testContext } from '../testing.ts'
import {
  decodeToMap,
  EthAbiError,
  fromAbiValue,
  parseEncodeAbi,
  parseEventAbi,
  parseParamsAbi,
  toAbiValue,
  toAbiValues,
} from './eth-abi.ts'
import { ethabidecodelogTask } from './ethabidecodelog.ts'
import { ethabiencodeTask } from './ethabiencode.ts'

const ORACLE_REQUEST =
  'OracleRequest(bytes32 indexed specId, address requester, bytes32 requestId, uint256 payment, address callbackAddr, bytes4 callbackFunctionId, uint256 cancelExpiration, uint256 dataVersion, bytes data)'
const FULFILL2 =
  'fulfillOracleRequest2(bytes32 requestId, uint256 payment, address callbackAddress, bytes4 callbackFunctionId, uint256 expiration, bytes calldata data)'

const types = (params: readonly AbiParameter[]) => params.map((p) => p.type)
const names = (params: readonly AbiParameter[]) => params.map((p) => p.name)

function throwsAbi(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof EthAbiError, `expected EthAbiError, got ${String(err)}`)
    assert.match(err.shortMessage, pattern)
    return true
  })
}

describe('parseEventAbi', () => {
  it('parses Chainlink event signatures, with or without the event keyword', () => {
    const e = parseEventAbi(ORACLE_REQUEST)
    assert.equal(e.name, 'OracleRequest')
    assert.equal(e.anonymous, false)
    assert.deepEqual(names(e.inputs), [
      'specId',
      'requester',
      'requestId',
      'payment',
      'callbackAddr',
      'callbackFunctionId',
      'cancelExpiration',
      'dataVersion',
      'data',
    ])
    assert.deepEqual(
      e.inputs.map((i) => (i as { indexed?: boolean }).indexed),
      [true, false, false, false, false, false, false, false, false],
    )
    const t = parseEventAbi(
      '  event Transfer(address indexed from, address indexed to, uint value) ',
    )
    assert.equal(t.name, 'Transfer')
    assert.deepEqual(types(t.inputs), ['address', 'address', 'uint256'])
    // Same inputs as the compiled Operator's event.
    const compiled = OperatorAbi.find((i) => i.type === 'event' && i.name === 'OracleRequest')!
    assert.deepEqual(
      types(e.inputs),
      types((compiled as unknown as { inputs: AbiParameter[] }).inputs),
    )
  })

  const failures: Array<[string, string, RegExp]> = [
    ['empty', '   ', /empty/],
    ['no parentheses', 'OracleRequest', /expected an event signature/],
    ['unknown type', 'Foo(uint257 a)', /invalid ABI "Foo\(uint257 a\)": unknown type "uint257"/],
    ['unclosed', 'Foo(uint256 a', /expected "," or "\)"/],
    [
      'four indexed',
      'Foo(uint indexed a, uint indexed b, uint indexed c, uint indexed d)',
      /at most 3/,
    ],
    ['anonymous', 'Foo(uint a) anonymous', /anonymous events are not supported/],
    ['trailing text', 'Foo(uint a) bar', /unexpected text/],
    ['indexed after name', 'Foo(uint a indexed)', /misplaced "indexed"/],
    ['duplicate names', 'Foo(uint a, bool a)', /duplicate argument name "a"/],
  ]
  for (const [label, text, pattern] of failures) {
    it(`rejects: ${label}`, () => throwsAbi(() => parseEventAbi(text), pattern))
  }
})

describe('parseEncodeAbi / parseParamsAbi', () => {
  it('parses a function signature, dropping data locations, with the right selector', () => {
    const abi = parseEncodeAbi(FULFILL2)
    assert.equal(abi.kind, 'function')
    assert.deepEqual(types(abi.inputs), [
      'bytes32',
      'uint256',
      'address',
      'bytes4',
      'uint256',
      'bytes',
    ])
    assert.equal(abi.kind === 'function' && toFunctionSelector(abi.item), '0x6ae0bc76')
    assert.equal(
      toFunctionSelector(
        OperatorAbi.find((i) => i.type === 'function' && i.name === 'fulfillOracleRequest2')!,
      ),
      '0x6ae0bc76',
    )
  })

  const cases: Array<[string, string, 'function' | 'tuple', string[], string[]]> = [
    [
      'tuple',
      '(bytes32 requestId, uint256 value)',
      'tuple',
      ['bytes32', 'uint256'],
      ['requestId', 'value'],
    ],
    [
      'bare list',
      'bytes32 requestId, uint value',
      'tuple',
      ['bytes32', 'uint256'],
      ['requestId', 'value'],
    ],
    ['function keyword', 'function ping()', 'function', [], []],
    ['no arguments', '()', 'tuple', [], []],
    [
      'address payable',
      'pay(address payable to, int amt)',
      'function',
      ['address', 'int256'],
      ['to', 'amt'],
    ],
    [
      'nested tuples and arrays',
      '((uint8 a, bool b)[] items, tuple(address x) one, uint256[2][] grid)',
      'tuple',
      ['tuple[]', 'tuple', 'uint256[2][]'],
      ['items', 'one', 'grid'],
    ],
    [
      'memory string',
      'f(string memory s, bytes storage b)',
      'function',
      ['string', 'bytes'],
      ['s', 'b'],
    ],
  ]
  for (const [label, text, kind, expectedTypes, expectedNames] of cases) {
    it(`parses ${label}`, () => {
      const abi = parseEncodeAbi(text)
      assert.equal(abi.kind, kind)
      assert.deepEqual(types(abi.inputs), expectedTypes)
      assert.deepEqual(names(abi.inputs), expectedNames)
    })
  }

  it('parseParamsAbi reads the bare and the parenthesized list alike, and tuple-typed first args', () => {
    assert.deepEqual(
      parseParamsAbi('bytes32 a, address[] b'),
      parseParamsAbi('(bytes32 a, address[] b)'),
    )
    const p = parseParamsAbi('(uint a, bool b) pair, uint c')
    assert.deepEqual(types(p), ['tuple', 'uint256'])
    assert.deepEqual(names(p), ['pair', 'c'])
    // Agrees with viem's own parser.
    assert.deepEqual(
      parseParamsAbi('(uint8 a, bool b)[] items, bytes32 id'),
      parseAbiParameters('(uint8 a, bool b)[] items, bytes32 id'),
    )
  })

  const failures: Array<[string, string, RegExp]> = [
    [
      'unknown type named with the ABI',
      'fulfill(uint257 x)',
      /invalid ABI "fulfill\(uint257 x\)": unknown type "uint257"/,
    ],
    ['bytes33', '(bytes33 x)', /unknown type "bytes33"/],
    ['uint7', '(uint7 x)', /unknown type "uint7"/],
    ['fixed point', 'f(fixed128x18 x)', /fixed-point type/],
    ['indexed outside events', 'f(uint indexed x)', /only allowed on event parameters/],
    ['zero-size array', 'f(uint[0] x)', /invalid array size "0"/],
    ['two names', 'f(uint a b)', /unexpected "b" after the argument name "a"/],
    ['missing comma', '(uint a bool b)', /unexpected "bool"/],
    ['trailing text', 'f(uint a) returns (uint)', /unexpected text/],
    ['empty', '', /empty/],
    ['missing type', 'f(, uint a)', /expected a type/],
  ]
  for (const [label, text, pattern] of failures) {
    it(`rejects: ${label}`, () => throwsAbi(() => parseEncodeAbi(text), pattern))
  }
})

describe('toAbiValue', () => {
  const p = (type: string, components?: AbiParameter[]): AbiParameter =>
    (components ? { type, name: 'x', components } : { type, name: 'x' }) as AbiParameter
  const tuple = p('tuple', [
    { type: 'uint8', name: 'a' },
    { type: 'bool', name: 'b' },
  ])
  const addr = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266'
  const jobId = '7da2702f37fd48e5b1b9a5715e3509b6'
  const happy: Array<[string, AbiParameter, unknown, unknown]> = [
    ['uint8 255 from a number', p('uint8'), 255, 255n],
    [
      'uint256 from an integral Decimal with scale',
      p('uint256'),
      parseDecimal('1.5e18'),
      1500000000000000000n,
    ],
    [
      'uint256 from a decimal string',
      p('uint256'),
      '12345678901234567890123',
      12345678901234567890123n,
    ],
    ['uint256 from a hex string', p('uint256'), '0xff', 255n],
    ['uint256 max', p('uint256'), (1n << 256n) - 1n, (1n << 256n) - 1n],
    ['int8 min', p('int8'), -128, -128n],
    ['int256 from a negative string', p('int256'), '-42', -42n],
    ['address, lowercase, checksummed', p('address'), addr, getAddress(addr)],
    [
      'address from 20 bytes',
      p('address'),
      new Uint8Array(20).fill(0x11),
      getAddress(`0x${'11'.repeat(20)}`),
    ],
    ['bool from "true"', p('bool'), 'true', true],
    ['bool false', p('bool'), false, false],
    ['bytes4 from hex (uppercase digits)', p('bytes4'), '0xABCDEF01', '0xabcdef01'],
    [
      'bytes32 from a 32-character job id (UTF-8)',
      p('bytes32'),
      jobId,
      `0x${Buffer.from(jobId).toString('hex')}`,
    ],
    ['bytes2 from 2 bytes', p('bytes2'), new Uint8Array([1, 2]), '0x0102'],
    ['bytes from hex', p('bytes'), '0x00ff', '0x00ff'],
    ['bytes from a UTF-8 string', p('bytes'), 'hi', '0x6869'],
    ['empty bytes', p('bytes'), '0x', '0x'],
    ['string', p('string'), 'héllo', 'héllo'],
    ['uint8[] from an array', p('uint8[]'), [1, '2', 3n], [1n, 2n, 3n]],
    ['uint8[2][] nested', p('uint8[2][]'), [[1, 2]], [[1n, 2n]]],
    ['tuple from an object', tuple, { a: 1, b: true, extra: 'ignored' }, [1n, true]],
    [
      'tuple from a Map',
      tuple,
      new Map<string, unknown>([
        ['a', 2],
        ['b', 'false'],
      ]),
      [2n, false],
    ],
    ['tuple from an array', tuple, [3, true], [3n, true]],
  ]
  for (const [label, param, value, expected] of happy) {
    it(`converts ${label}`, () => assert.deepEqual(toAbiValue(param, value, 'data.x'), expected))
  }

  const failures: Array<[string, AbiParameter, unknown, string]> = [
    ['uint8 = 256', p('uint8'), 256, 'data.x: 256 does not fit uint8'],
    ['negative uint', p('uint256'), -1, 'data.x: -1 does not fit uint256'],
    ['int8 = 128', p('int8'), 128n, 'data.x: 128 does not fit int8'],
    ['uint256 = 2^256', p('uint256'), 1n << 256n, `data.x: ${1n << 256n} does not fit uint256`],
    ['a fraction', p('uint256'), new Decimal(15n, 1), 'data.x: 1.5 is not an integer (uint256)'],
    ['a float', p('uint256'), 0.1 + 0.2, 'data.x: 0.30000000000000004 is not an integer (uint256)'],
    [
      'a non-numeric string',
      p('uint256'),
      'abc',
      'data.x: the string "abc" is not a valid uint256',
    ],
    ['bad hex integer', p('uint256'), '0xzz', 'data.x: the string "0xzz" is not a valid uint256'],
    [
      'a boolean for uint',
      p('uint256'),
      true,
      'data.x: expected an integer for uint256, got boolean',
    ],
    ['null', p('uint256'), null, 'data.x: expected a value for uint256, got null'],
    [
      'a short address',
      p('address'),
      '0x12',
      'data.x: expected a 20-byte hex address, got the string "0x12"',
    ],
    ['a number for address', p('address'), 5, 'data.x: expected a 20-byte hex address, got number'],
    [
      '19 bytes for address',
      p('address'),
      new Uint8Array(19),
      'data.x: expected a 20-byte address, got 19 bytes',
    ],
    ['a number for bool', p('bool'), 1, 'data.x: expected true or false for bool, got number'],
    [
      'bytes32 of 31 bytes',
      p('bytes32'),
      `0x${'ab'.repeat(31)}`,
      'data.x: expected exactly 32 bytes for bytes32, got 31',
    ],
    [
      'bytes32 of 33 bytes',
      p('bytes32'),
      new Uint8Array(33),
      'data.x: expected exactly 32 bytes for bytes32, got 33',
    ],
    [
      'a short string for bytes32 (no padding)',
      p('bytes32'),
      'abc',
      'data.x: expected exactly 32 bytes for bytes32, got 3',
    ],
    [
      'malformed hex for bytes4',
      p('bytes4'),
      '0xzzzzzzzz',
      'data.x: the string "0xzzzzzzzz" is not valid hex',
    ],
    [
      'odd-length hex for bytes',
      p('bytes'),
      '0x123',
      'data.x: the string "0x123" is not valid hex',
    ],
    [
      'a number for bytes',
      p('bytes'),
      12,
      'data.x: expected bytes (hex string or Uint8Array), got number',
    ],
    ['a number for string', p('string'), 12, 'data.x: expected a string, got number'],
    [
      'invalid UTF-8 for string',
      p('string'),
      new Uint8Array([0xff]),
      'data.x: the bytes are not valid UTF-8',
    ],
    ['a scalar for an array', p('uint8[]'), 1, 'data.x: expected an array for uint8[], got number'],
    [
      'a fixed array of the wrong length',
      p('uint8[2]'),
      [1, 2, 3],
      'data.x: expected 2 elements for uint8[2], got 3',
    ],
    ['an out-of-range element', p('uint8[]'), [1, 300], 'data.x[1]: 300 does not fit uint8'],
    ['a tuple missing a field', tuple, { a: 1 }, 'data.x.b: is missing (bool)'],
    ['a tuple with a bad field', tuple, { a: 256, b: true }, 'data.x.a: 256 does not fit uint8'],
    [
      'a tuple from a string',
      tuple,
      'x',
      'data.x: expected an object of arguments, got the string "x"',
    ],
  ]
  for (const [label, param, value, message] of failures) {
    it(`rejects ${label}`, () =>
      assert.throws(
        () => toAbiValue(param, value, 'data.x'),
        (err: unknown) => err instanceof EthAbiError && err.shortMessage === message,
      ))
  }

  it('toAbiValues: reads by name or position; names missing arguments', () => {
    const params = parseParamsAbi('uint8 a, address b')
    assert.deepEqual(toAbiValues(params, [1, addr], 'data'), [1n, getAddress(addr)])
    throwsAbi(() => toAbiValues(params, { a: 1 }, 'data'), /^data\.b: is missing \(address\)$/)
    throwsAbi(
      () => toAbiValues(params, [1], 'data'),
      /^data: expected 2 values, got an array of 1$/,
    )
    throwsAbi(
      () => toAbiValues(params, 7, 'data'),
      /^data: expected an object of arguments, got number$/,
    )
    throwsAbi(
      () => toAbiValues(parseParamsAbi('uint8'), { a: 1 }, 'data'),
      /argument 0 \(uint8\) has no name/,
    )
  })
})

describe('fromAbiValue / decodeToMap', () => {
  it('decodes to pipeline values: bigints, checksummed addresses, hex bytes, named tuples', () => {
    const params = parseParamsAbi(
      'uint8 small, int16 neg, address who, bytes4 sel, bytes blob, string s, bool ok, (uint8 a, bool b) t, uint32[] xs, uint256',
    )
    const who = getAddress('0x70997970c51812dc3a010c7d01b50e0d17dc79c8')
    const data = encodeAbiParameters(params, [
      7,
      -3,
      who,
      '0xDEADBEEF',
      '0xABCD',
      'str',
      true,
      { a: 1, b: false },
      [1, 2],
      9n,
    ])
    assert.deepEqual(decodeToMap(params, data), {
      small: 7n,
      neg: -3n,
      who,
      sel: '0xdeadbeef',
      blob: '0xabcd',
      s: 'str',
      ok: true,
      t: { a: 1n, b: false },
      xs: [1n, 2n],
      '9': 9n,
    })
    assert.deepEqual(fromAbiValue({ type: 'tuple', components: [{ type: 'uint8' }] }, [5]), [5n])
  })
})

/**
 * The published Chainlink direct-request job (get > uint256), run through this project's
 * `ethabidecodelog` and `ethabiencode` with the job's exact attribute strings, must produce
 * the same bytes as viem encoding `fulfillOracleRequest2` from the compiled Operator ABI.
 */
describe('Chainlink get > uint256 job: encode_data + encode_tx', () => {
  // The DOT attributes of the job, after DOT unescaping (\" → ").
  const encodeDataParams = {
    abi: '(bytes32 requestId, uint256 value)',
    data: '{ "requestId": $(decode_log.requestId), "value": $(multiply) }',
  }
  const encodeTxParams = {
    abi: FULFILL2,
    data: '{"requestId": $(decode_log.requestId), "payment": $(decode_log.payment), "callbackAddress": $(decode_log.callbackAddr), "callbackFunctionId": $(decode_log.callbackFunctionId), "expiration": $(decode_log.cancelExpiration), "data": $(encode_data)}',
  }

  const specId = `0x${Buffer.from('7da2702f37fd48e5b1b9a5715e3509b6').toString('hex')}` as Hex
  const requestId = `0x${'5a'.repeat(32)}` as Hex
  const payment = 10n ** 17n
  const callbackAddr = getAddress('0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc')
  const callbackFunctionId = '0x4357855e' as Hex
  const cancelExpiration = 1_700_000_300n
  const requester = getAddress('0x90f79bf6eb2c4f870365e785982e1f101e93b906')
  const cborData = '0x6367657478' as Hex

  /** A real OracleRequest log, encoded by viem from the compiled Operator ABI. */
  function oracleRequestLog() {
    const topics = encodeEventTopics({
      abi: OperatorAbi,
      eventName: 'OracleRequest',
      args: { specId },
    })
    const event = OperatorAbi.find((i) => i.type === 'event' && i.name === 'OracleRequest')!
    const plain = (
      event as unknown as { inputs: (AbiParameter & { indexed?: boolean })[] }
    ).inputs.filter((i) => !i.indexed)
    const data = encodeAbiParameters(plain, [
      requester,
      requestId,
      payment,
      callbackAddr,
      callbackFunctionId,
      cancelExpiration,
      1n,
      cborData,
    ])
    return { topics, data }
  }

  async function runJob(multiplied: unknown) {
    const log = oracleRequestLog()
    const decoded = await ethabidecodelogTask.run(
      testContext({
        type: 'ethabidecodelog',
        params: { abi: ORACLE_REQUEST, data: '$(jobRun.logData)', topics: '$(jobRun.logTopics)' },
        vars: { jobRun: { logData: log.data, logTopics: log.topics } },
      }),
    )
    assert.equal(decoded.error, undefined, decoded.error?.message)
    const vars: Record<string, unknown> = { decode_log: decoded.value, multiply: multiplied }
    const encodeData = await ethabiencodeTask.run(
      testContext({ id: 'encode_data', type: 'ethabiencode', params: encodeDataParams, vars }),
    )
    if (encodeData.error) return { encodeData }
    vars.encode_data = encodeData.value
    const encodeTx = await ethabiencodeTask.run(
      testContext({ id: 'encode_tx', type: 'ethabiencode', params: encodeTxParams, vars }),
    )
    return { encodeData, encodeTx }
  }

  it('is byte-identical to viem encodeFunctionData(OperatorAbi, fulfillOracleRequest2)', async () => {
    // parse = "1234.5678", times = 10000 → multiply = 12345678 (a Decimal with scale 4).
    const multiplied = parseDecimal('1234.5678')
    const product = new Decimal(multiplied.digits * 10000n, multiplied.scale)
    const { encodeData, encodeTx } = await runJob(product)
    const value = 12345678n
    const expectedData = encodeAbiParameters(
      parseAbiParameters('bytes32 requestId, uint256 value'),
      [requestId, value],
    )
    assert.equal(encodeData.value, expectedData)
    const expectedTx = encodeFunctionData({
      abi: OperatorAbi,
      functionName: 'fulfillOracleRequest2',
      args: [requestId, payment, callbackAddr, callbackFunctionId, cancelExpiration, expectedData],
    })
    assert.equal(encodeTx?.value, expectedTx)
    assert.ok(String(encodeTx?.value).startsWith('0x6ae0bc76'))
  })

  it('fails, naming data.value, when the multiplied result is not an integer', async () => {
    const { encodeData } = await runJob(parseDecimal('123456.78'))
    assert.ok(encodeData.error instanceof TaskError)
    assert.equal(encodeData.error.shortMessage, 'data.value: 123456.78 is not an integer (uint256)')
  })

  it('fails, naming data.value, when the result is negative', async () => {
    const { encodeData } = await runJob(-5n)
    assert.equal(encodeData.error?.shortMessage, 'data.value: -5 does not fit uint256')
  })
})
