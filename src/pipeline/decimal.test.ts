import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { BaseError } from '../errors.ts'
import {
  Decimal,
  DecimalError,
  formatDecimal,
  multiply,
  parseDecimal,
  truncate,
} from './decimal.ts'

const d = (digits: bigint, scale: number): Decimal => new Decimal(digits, scale)

/** Asserts `fn` throws a DecimalError whose message contains every one of `parts`. */
function throwsDecimal(fn: () => unknown, ...parts: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DecimalError, `expected DecimalError, got ${String(err)}`)
    assert.ok(err instanceof BaseError)
    assert.equal(err.name, 'DecimalError')
    for (const part of parts) assert.ok(err.message.includes(part), `${part} in: ${err.message}`)
    return true
  })
}

describe('parseDecimal', () => {
  it('parses integers', () => {
    assert.deepEqual(parseDecimal('0'), d(0n, 0))
    assert.deepEqual(parseDecimal('42'), d(42n, 0))
    assert.deepEqual(parseDecimal('+42'), d(42n, 0))
    assert.deepEqual(parseDecimal('007'), d(7n, 0))
    assert.deepEqual(parseDecimal(42), d(42n, 0))
    assert.deepEqual(
      parseDecimal('123456789012345678901234567890'),
      d(123456789012345678901234567890n, 0),
    )
  })

  it('parses fractions exactly, keeping trailing zeros in the scale', () => {
    assert.deepEqual(parseDecimal('3012.34'), d(301234n, 2))
    assert.deepEqual(parseDecimal('.5'), d(5n, 1))
    assert.deepEqual(parseDecimal('1.50'), d(150n, 2))
    assert.deepEqual(parseDecimal('0.000000000000000000000001'), d(1n, 24))
  })

  it('parses exponents, folding positive ones into the digits', () => {
    assert.deepEqual(parseDecimal('1e3'), d(1000n, 0))
    assert.deepEqual(parseDecimal('1E+3'), d(1000n, 0))
    assert.deepEqual(parseDecimal('1.5e3'), d(1500n, 0))
    assert.deepEqual(parseDecimal('1.5e1'), d(15n, 0))
    assert.deepEqual(parseDecimal('1.25e1'), d(125n, 1))
    assert.deepEqual(parseDecimal('1e-3'), d(1n, 3))
    assert.deepEqual(parseDecimal('12.5e-2'), d(125n, 3))
  })

  it('parses negatives', () => {
    assert.deepEqual(parseDecimal('-1.5'), d(-15n, 1))
    assert.deepEqual(parseDecimal('-0.05'), d(-5n, 2))
    assert.deepEqual(parseDecimal(-7), d(-7n, 0))
    assert.deepEqual(parseDecimal('-2e2'), d(-200n, 0))
  })

  it('takes bigints as they are', () => {
    assert.deepEqual(parseDecimal(10n ** 40n), d(10n ** 40n, 0))
    assert.deepEqual(parseDecimal(-3n), d(-3n, 0))
  })

  it('parses JS numbers through their shortest decimal form', () => {
    assert.deepEqual(parseDecimal(0.1), d(1n, 1))
    assert.deepEqual(parseDecimal(3012.34), d(301234n, 2))
    assert.deepEqual(parseDecimal(1e21), d(10n ** 21n, 0))
    assert.deepEqual(parseDecimal(1.5e-7), d(15n, 8))
    assert.deepEqual(parseDecimal(-0), d(0n, 0))
  })

  it('trims surrounding whitespace in strings', () => {
    assert.deepEqual(parseDecimal('  12.5\n'), d(125n, 1))
    assert.deepEqual(parseDecimal('\t-3 '), d(-3n, 0))
  })

  it('rejects non-finite numbers, naming the parameter', () => {
    throwsDecimal(() => parseDecimal(Number.NaN, 'times'), 'times', 'not a finite number', 'NaN')
    throwsDecimal(() => parseDecimal(Number.POSITIVE_INFINITY, 'price'), 'price', 'Infinity')
    throwsDecimal(() => parseDecimal(Number.NEGATIVE_INFINITY, 'price'), 'price', '-Infinity')
  })

  it('rejects strings that are not decimals, naming the parameter', () => {
    for (const bad of [
      'abc',
      '',
      '   ',
      '1.2.3',
      '1e',
      'e5',
      '.',
      '+',
      '-',
      '1,5',
      '0x10',
      'NaN',
    ]) {
      throwsDecimal(() => parseDecimal(bad, 'observed value'), 'observed value', 'not a decimal')
    }
    throwsDecimal(() => parseDecimal('abc', 'times'), 'times is not a decimal number: "abc"')
  })

  it('uses "value" as the default parameter name', () => {
    throwsDecimal(() => parseDecimal('abc'), 'value is not a decimal number')
  })

  it('rejects objects and other types, naming the parameter and the type', () => {
    throwsDecimal(() => parseDecimal({ price: 1 }, 'observed value'), 'observed value', 'object')
    throwsDecimal(() => parseDecimal([1], 'x'), 'x must be a number or a numeric string')
    throwsDecimal(() => parseDecimal(null, 'x'), 'x', 'object')
    throwsDecimal(() => parseDecimal(undefined, 'x'), 'x', 'undefined')
    throwsDecimal(() => parseDecimal(true, 'x'), 'x', 'boolean')
  })

  it('rejects exponents out of range instead of allocating huge numbers', () => {
    throwsDecimal(() => parseDecimal('1e1001', 'times'), 'times', 'exponent out of range')
    throwsDecimal(() => parseDecimal('1e-1001'), 'exponent out of range')
    throwsDecimal(() => parseDecimal('1e99999999999999999999'), 'exponent out of range')
    assert.deepEqual(parseDecimal('1e1000'), d(10n ** 1000n, 0))
  })

  it('truncates overlong input in the message', () => {
    const long = 'x'.repeat(500)
    assert.throws(
      () => parseDecimal(long),
      (err: unknown) => err instanceof DecimalError && err.message.length < 200,
    )
  })
})

describe('multiply and truncate', () => {
  it('is exact where floating point is not', () => {
    assert.equal(Math.trunc(4.35 * 100), 434) // the float product is 434.99999999999994
    assert.equal(truncate(multiply(parseDecimal(4.35), parseDecimal(100))), 435n)
    assert.equal(truncate(multiply(parseDecimal('2.3'), parseDecimal('100'))), 230n)
    const product = multiply(parseDecimal('3012.34'), parseDecimal(100))
    assert.deepEqual(product, d(30123400n, 2))
    assert.equal(truncate(product), 301234n)
    assert.equal(truncate(multiply(parseDecimal(0.1), parseDecimal(3))), 0n)
    assert.equal(truncate(multiply(parseDecimal(1.1), parseDecimal('1e18'))), 1100000000000000000n)
  })

  it('adds scales and multiplies digits', () => {
    assert.deepEqual(multiply(d(15n, 1), d(25n, 2)), d(375n, 3))
    assert.deepEqual(multiply(d(-2n, 0), d(5n, 1)), d(-10n, 1))
  })

  it('truncates toward zero', () => {
    assert.equal(truncate(parseDecimal('1.5')), 1n)
    assert.equal(truncate(parseDecimal('-1.5')), -1n)
    assert.equal(truncate(parseDecimal('-0.9')), 0n)
    assert.equal(truncate(parseDecimal('0.999999')), 0n)
    assert.equal(truncate(parseDecimal('12345.678')), 12345n)
    assert.equal(truncate(parseDecimal('7')), 7n)
  })

  it('keeps precision beyond 2^53', () => {
    const big = multiply(parseDecimal('123456789012345678.9'), parseDecimal('1e18'))
    assert.equal(truncate(big), 123456789012345678900000000000000000n)
  })
})

describe('formatDecimal', () => {
  it('formats integers, fractions and negatives', () => {
    assert.equal(formatDecimal(d(0n, 0)), '0')
    assert.equal(formatDecimal(d(42n, 0)), '42')
    assert.equal(formatDecimal(d(301234n, 2)), '3012.34')
    assert.equal(formatDecimal(d(-5n, 2)), '-0.05')
    assert.equal(formatDecimal(d(1n, 24)), '0.000000000000000000000001')
    assert.equal(formatDecimal(d(-15n, 1)), '-1.5')
  })

  it('drops trailing fractional zeros', () => {
    assert.equal(formatDecimal(d(150n, 2)), '1.5')
    assert.equal(formatDecimal(d(3000n, 3)), '3')
    assert.equal(formatDecimal(d(0n, 5)), '0')
  })

  it('round trips canonical decimal strings', () => {
    for (const text of [
      '0',
      '1',
      '-1',
      '3012.34',
      '-0.05',
      '0.1',
      '123456789012345678901.000001',
    ]) {
      assert.equal(formatDecimal(parseDecimal(text)), text)
    }
    assert.equal(formatDecimal(parseDecimal('1.5e3')), '1500')
    assert.equal(formatDecimal(parseDecimal('1e-3')), '0.001')
    assert.equal(formatDecimal(parseDecimal(1e21)), '1000000000000000000000')
  })

  it('round trips any digits and scale to the same value', () => {
    fc.assert(
      fc.property(fc.bigInt(), fc.integer({ min: 0, max: 40 }), (digits, scale) => {
        const text = formatDecimal(d(digits, scale))
        const back = parseDecimal(text)
        // Same value: digits × 10^-scale == back.digits × 10^-back.scale
        const common = Math.max(scale, back.scale)
        assert.equal(
          digits * 10n ** BigInt(common - scale),
          back.digits * 10n ** BigInt(common - back.scale),
        )
        assert.equal(formatDecimal(back), text)
      }),
    )
  })

  it('round trips finite JS numbers to the same number', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (n) => {
        assert.equal(Number(formatDecimal(parseDecimal(n))), n === 0 ? 0 : n)
      }),
    )
  })
})
