import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CborError, type CborValue, decodeCbor, decodeDietCbor, hexToBytes } from './cbor.ts'

const dec = (hex: string): CborValue => decodeCbor(hexToBytes(hex))
const diet = (hex: string): Record<string, CborValue> => decodeDietCbor(hexToBytes(hex))
const bytes = (...values: number[]) => new Uint8Array(values)

/** Asserts `fn` throws a CborError at `offset` whose message matches `pattern`. */
function throwsCbor(fn: () => unknown, offset: number, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CborError, `expected CborError, got ${String(err)}`)
    assert.equal(err.name, 'CborError')
    assert.equal(err.offset, offset, `offset in: ${err.message}`)
    assert.match(err.message, pattern)
    assert.match(err.message, new RegExp(`at offset ${offset}\\b`))
    return true
  })
}

describe('decodeCbor: RFC 8949 Appendix A', () => {
  it('decodes unsigned and negative integers, as number when safe and bigint otherwise', () => {
    const cases: Array<[string, number | bigint]> = [
      ['00', 0],
      ['01', 1],
      ['0a', 10],
      ['17', 23],
      ['1818', 24],
      ['1819', 25],
      ['1864', 100],
      ['1903e8', 1000],
      ['1a000f4240', 1000000],
      ['1b000000e8d4a51000', 1000000000000],
      ['1b001fffffffffffff', Number.MAX_SAFE_INTEGER],
      ['1b0020000000000000', 2n ** 53n],
      ['1bffffffffffffffff', 18446744073709551615n],
      ['20', -1],
      ['29', -10],
      ['3863', -100],
      ['3903e7', -1000],
      ['3b001ffffffffffffe', -Number.MAX_SAFE_INTEGER],
      ['3b001fffffffffffff', -(2n ** 53n)],
      ['3bffffffffffffffff', -18446744073709551616n],
    ]
    for (const [hex, expected] of cases) assert.equal(dec(hex), expected, hex)
  })

  it('decodes bignums (tags 2 and 3)', () => {
    assert.equal(dec('c249010000000000000000'), 18446744073709551616n)
    assert.equal(dec('c349010000000000000000'), -18446744073709551617n)
    assert.equal(dec('c240'), 0)
    assert.equal(dec('c340'), -1)
    assert.equal(dec('c24101'), 1)
    assert.equal(dec('c2430000ff'), 255)
    // indefinite-length byte string content
    assert.equal(dec('c25f4201004100ff'), 65536)
  })

  it('decodes half, single and double floats', () => {
    const cases: Array<[string, number]> = [
      ['f90000', 0],
      ['f98000', -0],
      ['f93c00', 1],
      ['fb3ff199999999999a', 1.1],
      ['f93e00', 1.5],
      ['f97bff', 65504],
      ['fa47c35000', 100000],
      ['fa7f7fffff', 3.4028234663852886e38],
      ['fb7e37e43c8800759c', 1e300],
      ['f90001', 2 ** -24],
      ['f90400', 0.00006103515625],
      ['f9c400', -4],
      ['fbc010666666666666', -4.1],
      ['f97c00', Number.POSITIVE_INFINITY],
      ['f97e00', Number.NaN],
      ['f9fc00', Number.NEGATIVE_INFINITY],
      ['fa7f800000', Number.POSITIVE_INFINITY],
      ['fa7fc00000', Number.NaN],
      ['faff800000', Number.NEGATIVE_INFINITY],
      ['fb7ff0000000000000', Number.POSITIVE_INFINITY],
      ['fb7ff8000000000000', Number.NaN],
      ['fbfff0000000000000', Number.NEGATIVE_INFINITY],
    ]
    for (const [hex, expected] of cases) assert.equal(dec(hex), expected, hex)
    assert.ok(Object.is(dec('f98000'), -0))
  })

  it('decodes simple values false, true, null, undefined', () => {
    assert.equal(dec('f4'), false)
    assert.equal(dec('f5'), true)
    assert.equal(dec('f6'), null)
    assert.equal(dec('f7'), undefined)
  })

  it('returns the content of tags other than 2 and 3', () => {
    assert.equal(dec('c074323031332d30332d32315432303a30343a30305a'), '2013-03-21T20:04:00Z')
    assert.equal(dec('c11a514b67b0'), 1363896240)
    assert.equal(dec('c1fb41d452d9ec200000'), 1363896240.5)
    assert.deepEqual(dec('d74401020304'), bytes(1, 2, 3, 4))
    assert.deepEqual(dec('d818456449455446'), bytes(0x64, 0x49, 0x45, 0x54, 0x46))
    assert.equal(
      dec('d82076687474703a2f2f7777772e6578616d706c652e636f6d'),
      'http://www.example.com',
    )
    // 8-byte tag number
    assert.equal(dec('dbffffffffffffffff01'), 1)
  })

  it('decodes byte and text strings', () => {
    assert.deepEqual(dec('40'), new Uint8Array(0))
    assert.deepEqual(dec('4401020304'), bytes(1, 2, 3, 4))
    assert.ok(dec('4401020304') instanceof Uint8Array)
    assert.equal(dec('60'), '')
    assert.equal(dec('6161'), 'a')
    assert.equal(dec('6449455446'), 'IETF')
    assert.equal(dec('62225c'), '"\\')
    assert.equal(dec('62c3bc'), 'ü')
    assert.equal(dec('63e6b0b4'), '水')
    assert.equal(dec('64f0908591'), '𐅑')
    // a leading BOM is data, not stripped
    assert.equal(dec('63efbbbf'), '\ufeff')
  })

  it('decodes arrays and maps', () => {
    assert.deepEqual(dec('80'), [])
    assert.deepEqual(dec('83010203'), [1, 2, 3])
    assert.deepEqual(dec('8301820203820405'), [1, [2, 3], [4, 5]])
    assert.deepEqual(
      dec('98190102030405060708090a0b0c0d0e0f101112131415161718181819'),
      Array.from({ length: 25 }, (_, i) => i + 1),
    )
    assert.deepEqual(dec('a0'), {})
    assert.deepEqual(dec('a201020304'), { '1': 2, '3': 4 })
    assert.deepEqual(dec('a22001390100f5'), { '-1': 1, '-257': true })
    assert.deepEqual(dec('a26161016162820203'), { a: 1, b: [2, 3] })
    assert.deepEqual(dec('826161a161626163'), ['a', { b: 'c' }])
    assert.deepEqual(dec('a56161614161626142616361436164614461656145'), {
      a: 'A',
      b: 'B',
      c: 'C',
      d: 'D',
      e: 'E',
    })
  })

  it('decodes indefinite-length strings, arrays and maps', () => {
    assert.deepEqual(dec('5f42010243030405ff'), bytes(1, 2, 3, 4, 5))
    assert.deepEqual(dec('5fff'), new Uint8Array(0))
    assert.equal(dec('7f657374726561646d696e67ff'), 'streaming')
    assert.equal(dec('7f62c3bc60ff'), 'ü')
    assert.deepEqual(dec('9fff'), [])
    assert.deepEqual(dec('9f018202039f0405ffff'), [1, [2, 3], [4, 5]])
    assert.deepEqual(dec('9f01820203820405ff'), [1, [2, 3], [4, 5]])
    assert.deepEqual(dec('83018202039f0405ff'), [1, [2, 3], [4, 5]])
    assert.deepEqual(dec('83019f0203ff820405'), [1, [2, 3], [4, 5]])
    assert.deepEqual(
      dec('9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff'),
      Array.from({ length: 25 }, (_, i) => i + 1),
    )
    assert.deepEqual(dec('bf61610161629f0203ffff'), { a: 1, b: [2, 3] })
    assert.deepEqual(dec('826161bf61626163ff'), ['a', { b: 'c' }])
    assert.deepEqual(dec('bf6346756ef563416d7421ff'), { Fun: true, Amt: -2 })
  })

  it('decodes nested structures', () => {
    // {"x": [1, {"y": [h'ff', null]}], "z": -1.5}
    assert.deepEqual(dec('a2617882 01a1617982 41ff f6 617a f9be00'.replaceAll(' ', '')), {
      x: [1, { y: [bytes(0xff), null] }],
      z: -1.5,
    })
  })

  it('keeps a "__proto__" key as an own property without touching the prototype', () => {
    // {"__proto__": {"polluted": true}}
    const value = dec('a1695f5f70726f746f5f5fa168706f6c6c75746564f5') as Record<string, CborValue>
    assert.equal(Object.getPrototypeOf(value), Object.prototype)
    assert.ok(Object.hasOwn(value, '__proto__'))
    assert.deepEqual(Object.keys(value), ['__proto__'])
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
    assert.equal((value as Record<string, unknown>).polluted, undefined)
  })

  it('accepts a Uint8Array view into a larger buffer', () => {
    const buffer = hexToBytes('ffff1903e8ffff')
    assert.equal(decodeCbor(buffer.subarray(2, 5)), 1000)
  })
})

describe('decodeDietCbor', () => {
  it('returns {} for empty input', () => {
    assert.deepEqual(decodeDietCbor(new Uint8Array(0)), {})
  })

  it('decodes what a Chainlink client emits for get/path/times', () => {
    // req.add("get", url); req.add("path", "USD"); req.addInt("times", 100)
    const hex =
      '63' +
      '676574' + // "get"
      '783f' + // text(63)
      '68747470733a2f2f6d696e2d6170692e63727970746f636f6d706172652e636f6d2f' + // https://min-api.cryptocompare.com/
      '646174612f70726963653f6673796d3d455448267473796d733d555344' + // data/price?fsym=ETH&tsyms=USD
      '64' +
      '70617468' + // "path"
      '63' +
      '555344' + // "USD"
      '65' +
      '74696d6573' + // "times"
      '1864' // 100
    assert.deepEqual(diet(hex), {
      get: 'https://min-api.cryptocompare.com/data/price?fsym=ETH&tsyms=USD',
      path: 'USD',
      times: 100,
    })
  })

  it('decodes {get: url, path: "a,b", times: 100} and matches the wrapped standard map', () => {
    const entries =
      '63676574' + // "get"
      '7268747470733a2f2f782e696f2f703f713d31' + // "https://x.io/p?q=1" (18 bytes)
      '6470617468' + // "path"
      '63612c62' + // "a,b"
      '6574696d6573' + // "times"
      '1864' // 100
    const expected = { get: 'https://x.io/p?q=1', path: 'a,b', times: 100 }
    assert.deepEqual(diet(entries), expected)
    assert.deepEqual(dec(`bf${entries}ff`), expected)
    assert.deepEqual(dec(`a3${entries}`), expected)
  })

  it('decodes a string array sent as an indefinite-length array', () => {
    // req.addStringArray("path", ["a", "b"]) -> "path" 0x9f "a" "b" 0xff
    assert.deepEqual(diet('6470617468 9f 6161 6162 ff'.replaceAll(' ', '')), { path: ['a', 'b'] })
    assert.deepEqual(diet('64706174689fff'), { path: [] })
  })

  it('decodes bignums over 32-byte big-endian content with leading zeros', () => {
    const word = (hex: string) => hex.padStart(64, '0')
    // "big" tag(2) bytes(32) 1e18
    assert.deepEqual(diet(`63626967c25820${word('0de0b6b3a7640000')}`), { big: 10n ** 18n })
    // small value in 32 bytes -> number
    assert.deepEqual(diet(`63626967c25820${word('64')}`), { big: 100 })
    // uint256 max
    assert.deepEqual(diet(`63626967c25820${'ff'.repeat(32)}`), { big: 2n ** 256n - 1n })
    // "neg" tag(3) of 1e18-1 -> -1e18 (Chainlink encodes -1 - value)
    assert.deepEqual(diet(`636e6567c35820${word('0de0b6b3a763ffff')}`), { neg: -(10n ** 18n) })
    // tag(3) of 99 -> -100
    assert.deepEqual(diet(`636e6567c35820${word('63')}`), { neg: -100 })
    // addInt with a negative value: major type 1
    assert.deepEqual(diet('636e65673863'), { neg: -100 })
  })

  it('decodes integer keys with String() like standard maps', () => {
    assert.deepEqual(diet('016161206161'), { '1': 'a', '-1': 'a' })
  })
})

describe('errors', () => {
  it('rejects truncated input', () => {
    throwsCbor(() => decodeCbor(new Uint8Array(0)), 0, /unexpected end of input/)
    throwsCbor(() => dec('1a0000'), 0, /unexpected end of input/)
    throwsCbor(() => dec('6261'), 0, /unexpected end of input/)
    throwsCbor(() => dec('830102'), 0, /unexpected end of input/)
    throwsCbor(() => dec('8301820203'), 5, /unexpected end of input/)
    throwsCbor(() => dec('a16161'), 1, /unexpected end of input/)
    throwsCbor(() => dec('9f0102'), 0, /unexpected end of input/)
    throwsCbor(() => dec('82019f'), 2, /unexpected end of input/)
    throwsCbor(() => dec('fa47c350'), 0, /unexpected end of input/)
    throwsCbor(() => dec('c2'), 1, /unexpected end of input/)
    throwsCbor(
      () => diet('6574696d6573'),
      0,
      /unexpected end of input.*\n[\s\S]*"times" has no value/,
    )
    throwsCbor(() => diet('616118'), 2, /unexpected end of input/)
  })

  it('rejects trailing bytes in decodeCbor', () => {
    throwsCbor(() => dec('0000'), 1, /1 trailing byte\(s\)/)
    throwsCbor(() => dec('83010203040506'), 4, /3 trailing byte\(s\)/)
  })

  it('rejects a stray break', () => {
    throwsCbor(() => dec('ff'), 0, /unexpected break/)
    throwsCbor(() => dec('8201ff'), 2, /unexpected break/)
    throwsCbor(() => dec('a1ff01'), 1, /unexpected break/)
    throwsCbor(() => diet('ff'), 0, /unexpected break/)
    throwsCbor(() => diet('616101ff'), 3, /unexpected break/)
  })

  it('rejects reserved additional information 28-30', () => {
    throwsCbor(() => dec('1c'), 0, /reserved additional information 28/)
    throwsCbor(() => dec('811d'), 1, /reserved additional information 29/)
    throwsCbor(() => dec('7e'), 0, /reserved additional information 30 in text string/)
    throwsCbor(() => dec('fc'), 0, /reserved additional information 28/)
  })

  it('rejects indefinite length where it is not allowed', () => {
    throwsCbor(() => dec('1f'), 0, /indefinite length is not allowed for unsigned integer/)
    throwsCbor(() => dec('3f'), 0, /indefinite length is not allowed for negative integer/)
    throwsCbor(() => dec('df01'), 0, /indefinite length is not allowed for tag/)
    throwsCbor(() => dec('5f6161ff'), 1, /chunk must be a definite-length byte string, got text/)
    throwsCbor(() => dec('7f7f6161ffff'), 1, /chunk must be a definite-length text string/)
    throwsCbor(() => dec('5f01ff'), 1, /chunk must be .*got unsigned integer/)
  })

  it('rejects unsupported simple values', () => {
    throwsCbor(() => dec('f0'), 0, /unsupported simple value 16/)
    throwsCbor(() => dec('f820'), 0, /unsupported simple value 32/)
    throwsCbor(() => dec('f8ff'), 0, /unsupported simple value 255/)
    throwsCbor(() => dec('82f4f3'), 2, /unsupported simple value 19/)
  })

  it('rejects bignum tags whose content is not a byte string', () => {
    throwsCbor(() => dec('c201'), 1, /bignum tag 2 must enclose a byte string, got unsigned/)
    throwsCbor(() => dec('c36161'), 1, /bignum tag 3 must enclose a byte string, got text/)
  })

  it('rejects invalid UTF-8 and names the offset', () => {
    throwsCbor(() => dec('62c328'), 0, /invalid UTF-8 in text string/)
    throwsCbor(() => dec('8201 61ff'.replace(' ', '')), 2, /invalid UTF-8/)
    throwsCbor(() => dec('7f6161 61ff ff'.replaceAll(' ', '')), 3, /invalid UTF-8/)
    // a code point split across chunks is invalid: each chunk must be valid on its own
    throwsCbor(() => dec('7f61c361bcff'), 1, /invalid UTF-8/)
    throwsCbor(() => diet('61ff01'), 0, /invalid UTF-8/)
    // lone surrogate encoded in UTF-8
    throwsCbor(() => dec('63eda080'), 0, /invalid UTF-8/)
  })

  it('rejects non-text, non-integer map keys', () => {
    throwsCbor(() => diet('416101'), 0, /map key must be a text string or integer, got byte string/)
    throwsCbor(() => diet('6161018001'), 3, /map key must be .*got array/)
    throwsCbor(() => diet('f401'), 0, /map key must be .*got simple value or float/)
    throwsCbor(() => diet('c1016101'), 0, /map key must be .*got tag/)
    throwsCbor(() => dec('a18001'), 1, /map key must be a text string or integer, got array/)
    throwsCbor(() => dec('a1a00101'), 1, /got map/)
  })

  it('rejects duplicate keys and names the key', () => {
    throwsCbor(() => dec('a2616101616102'), 4, /duplicate map key "a"/)
    throwsCbor(() => dec('bf616101616102ff'), 4, /duplicate map key "a"/)
    throwsCbor(() => dec('a201026131 03'.replace(' ', '')), 3, /duplicate map key "1"/)
    throwsCbor(
      () => diet('6574696d65731864 6574696d65730a'.replace(' ', '')),
      8,
      /duplicate map key "times"/,
    )
    throwsCbor(() => dec('a2695f5f70726f746f5f5f01695f5f70726f746f5f5f02'), 12, /"__proto__"/)
  })

  it('rejects a depth bomb', () => {
    const bomb = new Uint8Array(1001).fill(0x81)
    bomb[1000] = 0x00
    throwsCbor(() => decodeCbor(bomb), 64, /nesting depth exceeds the limit of 64/)
    const tags = new Uint8Array(1001).fill(0xc6)
    tags[1000] = 0x00
    throwsCbor(() => decodeCbor(tags), 64, /nesting depth/)
    // within the limit it decodes; the limit is configurable
    const ok = hexToBytes('818181818100')
    assert.deepEqual(decodeCbor(ok), [[[[[0]]]]])
    throwsCbor(() => decodeCbor(ok, { maxDepth: 4 }), 4, /limit of 4/)
    // diet's implicit map is one level
    throwsCbor(() => decodeDietCbor(hexToBytes('616181818100'), { maxDepth: 3 }), 4, /limit of 3/)
    assert.deepEqual(decodeDietCbor(hexToBytes('616181818100'), { maxDepth: 4 }), { a: [[[0]]] })
  })

  it('rejects a depth bomb even with an absurd maxDepth', () => {
    const bomb = new Uint8Array(1_000_000).fill(0x81)
    assert.throws(
      () =>
        decodeCbor(bomb, {
          maxDepth: Number.POSITIVE_INFINITY,
          maxItems: Number.POSITIVE_INFINITY,
        }),
      (err: unknown) => err instanceof CborError,
    )
  })

  it('rejects length bombs before allocating', () => {
    throwsCbor(() => dec('5b0000000100000000'), 0, /unexpected end of input/)
    assert.throws(
      () => dec('5b0000000100000000'),
      (err: unknown) => err instanceof CborError && /4294967296/.test(err.message),
    )
    throwsCbor(
      () => dec('5bffffffffffffffff'),
      0,
      /byte string length 18446744073709551615 exceeds the maximum safe integer/,
    )
    throwsCbor(() => dec('7bffffffffffffffff'), 0, /text string length .* exceeds/)
    throwsCbor(() => dec('9b0020000000000000'), 0, /array length 9007199254740992 exceeds/)
    throwsCbor(() => dec('9a7fffffff00'), 0, /unexpected end of input/)
    throwsCbor(() => dec('ba7fffffff0000'), 0, /unexpected end of input/)
    throwsCbor(() => dec('8159ffff'), 1, /unexpected end of input/)
    throwsCbor(() => dec('5f5affffffffff'), 1, /unexpected end of input/)
  })

  it('rejects more items than maxItems', () => {
    const five = hexToBytes('850101010101')
    assert.deepEqual(decodeCbor(five, { maxItems: 6 }), [1, 1, 1, 1, 1])
    throwsCbor(() => decodeCbor(five, { maxItems: 3 }), 0, /too many data items \(limit 3\)/)
    throwsCbor(
      () => decodeCbor(hexToBytes('9f0101010101ff'), { maxItems: 3 }),
      3,
      /too many data items \(limit 3\)/,
    )
    throwsCbor(
      () => decodeCbor(hexToBytes('a2616101616202'), { maxItems: 4 }),
      0,
      /too many data items \(limit 4\): map declares 2 entries/,
    )
    throwsCbor(
      () => decodeDietCbor(hexToBytes('616101616202'), { maxItems: 3 }),
      5,
      /too many data items/,
    )
    // default limit: 100 001 one-byte items in an indefinite array
    const many = new Uint8Array(100_003)
    many[0] = 0x9f
    many[100_002] = 0xff
    throwsCbor(() => decodeCbor(many), 100_000, /too many data items \(limit 100000\)/)
  })

  it('rejects invalid options with a BaseError', () => {
    assert.throws(
      () => decodeCbor(bytes(0), { maxDepth: -1 }),
      /Invalid CBOR decode option maxDepth/,
    )
    assert.throws(() => decodeCbor(bytes(0), { maxItems: Number.NaN }), /maxItems/)
  })
})

describe('hexToBytes', () => {
  it('parses with and without 0x prefix, in either case', () => {
    assert.deepEqual(hexToBytes('0x00ff10'), bytes(0, 255, 16))
    assert.deepEqual(hexToBytes('0X00FF10'), bytes(0, 255, 16))
    assert.deepEqual(hexToBytes('aBcD'), bytes(0xab, 0xcd))
    assert.deepEqual(hexToBytes(''), new Uint8Array(0))
    assert.deepEqual(hexToBytes('0x'), new Uint8Array(0))
  })

  it('rejects odd length and non-hex characters', () => {
    throwsCbor(() => hexToBytes('0x123'), 0, /odd number of digits \(3\)/)
    throwsCbor(() => hexToBytes('0x12zz'), 4, /invalid hex character "z"/)
    throwsCbor(() => hexToBytes('1g'), 1, /invalid hex character "g"/)
    throwsCbor(() => hexToBytes(' 1'), 0, /invalid hex character " "/)
  })
})
