import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { BaseError } from '../errors.ts'
import {
  add,
  checkMagnitude,
  compare,
  Decimal,
  DecimalError,
  divide,
  divideExact,
  formatDecimal,
  fromNumberExact,
  isInteger,
  MAX_INTEGER_DIGITS,
  multiply,
  normalize,
  parseDecimal,
  round,
  subtract,
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

const p = (text: string): Decimal => parseDecimal(text)
const str = (x: Decimal): string => formatDecimal(x)
/** Equal by value, whatever the scales. */
const same = (a: Decimal, b: Decimal): boolean => compare(a, b) === 0

describe('parseDecimal sanity bounds', () => {
  it('rejects literals with more than 1000 significant digits', () => {
    throwsDecimal(() => parseDecimal('1'.repeat(1001), 'times'), 'times', 'too many digits')
    throwsDecimal(() => parseDecimal(`0.${'1'.repeat(1001)}`), 'too many digits')
    assert.equal(parseDecimal('9'.repeat(1000)).digits, 10n ** 1000n - 1n)
    // Leading zeros do not count.
    assert.deepEqual(parseDecimal(`${'0'.repeat(2000)}5`), d(5n, 0))
  })

  it('rejects the JS number 1e400 (Infinity) and accepts the string within the exponent bound', () => {
    throwsDecimal(() => parseDecimal(Number('1e400'), 'input'), 'input', 'not a finite number')
    assert.equal(parseDecimal('1e400').digits, 10n ** 400n)
  })
})

describe('checkMagnitude', () => {
  it('accepts values below 10^400 and rejects the rest, naming the parameter', () => {
    const table: [string, boolean][] = [
      ['0', true],
      [`${'9'.repeat(400)}.999`, true],
      [`-${'9'.repeat(400)}`, true],
      ['1e399', true],
      ['1e-1000', true],
      ['1e400', false],
      ['-1e400', false],
      ['1.5e400', false],
      ['1e1000', false],
    ]
    for (const [text, ok] of table) {
      if (ok) assert.deepEqual(checkMagnitude(p(text)), p(text), text)
      else throwsDecimal(() => checkMagnitude(p(text), 'times'), 'times', 'out of range', '400')
    }
    assert.equal(MAX_INTEGER_DIGITS, 400)
  })
})

describe('add, subtract, compare', () => {
  it('aligns scales exactly', () => {
    const table: [string, string, string, string, -1 | 0 | 1][] = [
      // a, b, a+b, a-b, compare(a, b)
      ['0.1', '0.2', '0.3', '-0.1', -1],
      ['1.50', '1.5', '3', '0', 0],
      ['-2', '0.001', '-1.999', '-2.001', -1],
      [
        '123456789012345678901234567890',
        '0.000000000000000001',
        '123456789012345678901234567890.000000000000000001',
        '123456789012345678901234567889.999999999999999999',
        1,
      ],
      ['0', '-0', '0', '0', 0],
      ['-1.25', '-1.3', '-2.55', '0.05', 1],
    ]
    for (const [a, b, sum, diff, cmp] of table) {
      assert.equal(str(add(p(a), p(b))), sum, `${a} + ${b}`)
      assert.equal(str(subtract(p(a), p(b))), diff, `${a} - ${b}`)
      assert.equal(compare(p(a), p(b)), cmp, `compare(${a}, ${b})`)
      assert.equal(compare(p(b), p(a)), -cmp || 0, `compare(${b}, ${a})`)
    }
  })

  it('satisfies a + b - b = a', () => {
    fc.assert(
      fc.property(fc.bigInt(), fc.nat(30), fc.bigInt(), fc.nat(30), (x, xs, y, ys) => {
        const a = d(x, xs)
        const b = d(y, ys)
        assert.ok(same(subtract(add(a, b), b), a))
        assert.equal(compare(add(a, b), b), compare(a, d(0n, 0)))
      }),
    )
  })
})

describe('divide', () => {
  it('rounds half away from zero at the given precision', () => {
    const table: [string, string, number, string][] = [
      ['1', '3', 18, '0.333333333333333333'],
      ['2', '3', 18, '0.666666666666666667'],
      ['-2', '3', 18, '-0.666666666666666667'],
      ['2', '-3', 2, '-0.67'],
      ['-2', '-3', 2, '0.67'],
      ['1', '8', 2, '0.13'], // 0.125 → 0.13
      ['-1', '8', 2, '-0.13'],
      ['1', '8', 3, '0.125'],
      ['10', '4', 0, '3'], // 2.5 → 3
      ['-10', '4', 0, '-3'],
      ['9', '4', 0, '2'], // 2.25 → 2
      ['3012.34', '0.01', 0, '301234'],
      ['1.5', '0.5', 5, '3'],
      ['0', '7', 4, '0'],
      ['1234', '1', -2, '1200'],
      ['1250', '1', -2, '1300'],
      ['1', '3', 100, `0.${'3'.repeat(100)}`],
    ]
    for (const [a, b, precision, want] of table) {
      assert.equal(str(divide(p(a), p(b), precision)), want, `${a} / ${b} @ ${precision}`)
    }
    assert.deepEqual(divide(p('1'), p('4'), 4), d(2500n, 4))
  })

  it('rejects division by zero and bad precision', () => {
    throwsDecimal(() => divide(p('1'), p('0'), 2), 'division by zero')
    throwsDecimal(() => divide(p('1'), p('0.000'), 2), 'division by zero')
    throwsDecimal(() => divide(p('1'), p('3'), 1.5), 'precision')
    throwsDecimal(() => divide(p('1'), p('3'), 1001), 'precision')
    throwsDecimal(() => divide(p('1'), p('3'), Number.NaN), 'precision')
  })

  it('is within half a unit of the last place', () => {
    fc.assert(
      fc.property(
        fc.bigInt(),
        fc.nat(20),
        fc.bigInt(),
        fc.nat(20),
        fc.nat(30),
        (x, xs, y, ys, pr) => {
          fc.pre(y !== 0n)
          const q = divide(d(x, xs), d(y, ys), pr)
          // |q·b − a| ≤ |b| · 10^-pr / 2
          const err = subtract(multiply(q, d(y, ys)), d(x, xs))
          const bound = multiply(d(y < 0n ? -y : y, ys), d(5n, pr + 1))
          const absErr = err.digits < 0n ? d(-err.digits, err.scale) : err
          assert.ok(compare(absErr, bound) <= 0)
        },
      ),
    )
  })
})

describe('divideExact', () => {
  it('returns terminating quotients exactly and undefined otherwise', () => {
    const table: [string, string, string | undefined][] = [
      ['1', '8', '0.125'],
      ['1', '3', undefined],
      ['3', '3', '1'],
      ['1', '6', undefined],
      ['3', '6', '0.5'],
      ['1', '1024', '0.0009765625'],
      ['-7', '0.2', '-35'],
      ['1e-20', '2', '0.000000000000000000005'],
      ['10', '-4', '-2.5'],
      ['0', '3', '0'],
    ]
    for (const [a, b, want] of table) {
      const q = divideExact(p(a), p(b))
      assert.equal(q === undefined ? undefined : str(q), want, `${a} / ${b}`)
    }
    assert.equal(divideExact(p('1'), p('1024'), 9), undefined) // needs 10 places
    throwsDecimal(() => divideExact(p('1'), p('0')), 'division by zero')
  })
})

describe('round, normalize, isInteger', () => {
  it('rounds half away from zero', () => {
    const table: [string, number, string][] = [
      ['1.005', 2, '1.01'],
      ['-1.005', 2, '-1.01'],
      ['1.004', 2, '1'],
      ['2.5', 0, '3'],
      ['-2.5', 0, '-3'],
      ['0.49999', 0, '0'],
      ['1.5', 3, '1.5'],
      ['1250', -2, '1300'],
      ['-1249', -2, '-1200'],
      ['7', 0, '7'],
    ]
    for (const [text, places, want] of table) {
      assert.equal(str(round(p(text), places)), want, `round(${text}, ${places})`)
    }
    assert.deepEqual(round(p('1.2345'), 2), d(123n, 2))
    throwsDecimal(() => round(p('1'), 0.5), 'places')
  })

  it('strips trailing zeros without changing the value', () => {
    assert.deepEqual(normalize(d(1500n, 3)), d(15n, 1))
    assert.deepEqual(normalize(d(1000n, 3)), d(1n, 0))
    assert.deepEqual(normalize(d(0n, 5)), d(0n, 0))
    assert.deepEqual(normalize(d(-120n, 1)), d(-12n, 0))
    assert.deepEqual(normalize(d(1000n, 0)), d(1000n, 0))
    assert.deepEqual(normalize(d(123n, 2)), d(123n, 2))
  })

  it('tells integers from fractions', () => {
    for (const text of ['0', '5', '-5', '1.000', '1e3', '2.5e1'])
      assert.ok(isInteger(p(text)), text)
    for (const text of ['0.5', '-1.01', '1e-3', '2.55e1']) assert.ok(!isInteger(p(text)), text)
  })
})

describe('fromNumberExact', () => {
  it('gives the exact binary value of a double', () => {
    assert.equal(
      str(fromNumberExact(0.1)),
      '0.1000000000000000055511151231257827021181583404541015625',
    )
    assert.equal(str(fromNumberExact(0.5)), '0.5')
    assert.equal(str(fromNumberExact(-0.25)), '-0.25')
    assert.equal(str(fromNumberExact(42)), '42')
    assert.equal(str(fromNumberExact(-0)), '0')
    assert.equal(str(fromNumberExact(2 ** 60)), '1152921504606846976')
    assert.equal(fromNumberExact(Number.MIN_VALUE).scale, 1074)
  })

  it('rejects NaN and Infinity, naming the parameter', () => {
    throwsDecimal(() => fromNumberExact(Number.NaN, 'times'), 'times', 'NaN')
    throwsDecimal(() => fromNumberExact(Number('1e400'), 'times'), 'times', 'Infinity')
  })

  it('round trips to the same double', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (n) => {
        assert.equal(Number(str(fromNumberExact(n))), n === 0 ? 0 : n)
      }),
    )
  })
})
