import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BaseError } from '../errors.ts'
import { getPath, JsonPathError, splitPath } from './json-path.ts'

/** Asserts `fn` throws a JsonPathError whose message contains every one of `parts`. */
function throwsPath(fn: () => unknown, ...parts: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof JsonPathError, `expected JsonPathError, got ${String(err)}`)
    assert.ok(err instanceof BaseError)
    assert.equal(err.name, 'JsonPathError')
    for (const part of parts) assert.ok(err.message.includes(part), `${part} in: ${err.message}`)
    return true
  })
}

describe('splitPath', () => {
  it('splits on commas by default', () => {
    assert.deepEqual(splitPath('data,price'), ['data', 'price'])
    assert.deepEqual(splitPath('price'), ['price'])
  })

  it('splits on a custom separator', () => {
    assert.deepEqual(splitPath('data.0.price', '.'), ['data', '0', 'price'])
    assert.deepEqual(splitPath('data,0.price', '.'), ['data,0', 'price'])
  })

  it('gives no keys for the empty string, and keeps empty segments otherwise', () => {
    assert.deepEqual(splitPath(''), [])
    assert.deepEqual(splitPath('a,,b'), ['a', '', 'b'])
  })

  it('copies an array path as-is (separators inside elements are not split)', () => {
    const input = ['data', 'a,b', '0']
    const out = splitPath(input)
    assert.deepEqual(out, ['data', 'a,b', '0'])
    assert.notEqual(out, input)
    out.push('x')
    assert.equal(input.length, 3)
    assert.deepEqual(splitPath([]), [])
  })
})

describe('getPath', () => {
  const doc = {
    data: { price: 3012.34, nested: { deep: 'yes' } },
    list: [10, { v: 'second' }, [30, 31]],
    nothing: null,
    zero: 0,
    text: 'abc',
  }

  it('returns the value itself for an empty path', () => {
    assert.equal(getPath(doc, []), doc)
    assert.equal(getPath(5, []), 5)
  })

  it('follows keys into objects', () => {
    assert.equal(getPath(doc, ['data', 'price']), 3012.34)
    assert.equal(getPath(doc, ['data', 'nested', 'deep']), 'yes')
    assert.deepEqual(getPath(doc, ['data', 'nested']), { deep: 'yes' })
  })

  it('returns falsy leaf values (null, 0) rather than treating them as missing', () => {
    assert.equal(getPath(doc, ['nothing']), null)
    assert.equal(getPath(doc, ['zero']), 0)
  })

  it('indexes into arrays, including nested arrays', () => {
    assert.equal(getPath(doc, ['list', '0']), 10)
    assert.equal(getPath(doc, ['list', '1', 'v']), 'second')
    assert.equal(getPath(doc, ['list', '2', '1']), 31)
    assert.equal(getPath([[1, 2], [3]], ['1', '0']), 3)
  })

  it('counts negative indices from the end', () => {
    assert.deepEqual(getPath(doc, ['list', '-1']), [30, 31])
    assert.equal(getPath(doc, ['list', '-3']), 10)
    assert.equal(getPath(doc, ['list', '-2', 'v']), 'second')
    assert.equal(getPath(doc, ['list', '-0']), 10)
  })

  it('works with a path from splitPath', () => {
    assert.equal(getPath(doc, splitPath('list.1.v', '.')), 'second')
    assert.equal(getPath(doc, splitPath('data,price')), 3012.34)
  })

  it('names the walked path for a missing key', () => {
    throwsPath(() => getPath(doc, ['data', 'volume']), '"data.volume"', 'no such key')
    throwsPath(() => getPath(doc, ['missing', 'price']), '"missing"', 'no such key')
  })

  it('rejects a non-index key on an array', () => {
    throwsPath(() => getPath(doc, ['list', 'first']), '"list.first"', 'not an array index')
    throwsPath(() => getPath(doc, ['list', 'length']), '"list.length"', 'not an array index')
    throwsPath(() => getPath(doc, ['list', '1.5']), '"list.1.5"', 'not an array index')
    throwsPath(() => getPath(doc, ['list', '']), '"list."', 'not an array index')
  })

  it('rejects out-of-range indices, positive and negative', () => {
    throwsPath(() => getPath(doc, ['list', '3']), '"list.3"', 'out of range', 'length 3')
    throwsPath(() => getPath(doc, ['list', '-4']), '"list.-4"', 'out of range', 'length 3')
    throwsPath(() => getPath([], ['0']), '"0"', 'out of range', 'length 0')
    throwsPath(() => getPath(doc, ['list', '99999999999999999999']), 'out of range')
  })

  it('rejects indexing into null, numbers and strings', () => {
    throwsPath(() => getPath(doc, ['nothing', 'x']), '"nothing.x"', 'cannot index into null')
    throwsPath(
      () => getPath(doc, ['data', 'price', 'cents']),
      '"data.price.cents"',
      'cannot index into number',
    )
    throwsPath(() => getPath(doc, ['text', '0']), '"text.0"', 'cannot index into string')
    throwsPath(() => getPath(null, ['a']), '"a"', 'cannot index into null')
    throwsPath(() => getPath(undefined, ['a']), 'cannot index into undefined')
    throwsPath(() => getPath(true, ['a']), 'cannot index into boolean')
  })

  it('does not resolve inherited prototype keys', () => {
    const parsed = JSON.parse('{"data":{"price":1}}') as unknown
    for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype']) {
      throwsPath(() => getPath(parsed, [key]), `"${key}"`, 'no such key')
      throwsPath(() => getPath(parsed, ['data', key]), `"data.${key}"`, 'no such key')
    }
    throwsPath(() => getPath(parsed, ['constructor', 'prototype']), '"constructor"', 'no such key')
    throwsPath(() => getPath({}, ['__proto__', 'polluted']), '"__proto__"', 'no such key')
  })

  it('resolves prototype-named keys that are own properties of the JSON', () => {
    const parsed = JSON.parse('{"__proto__":{"price":7},"constructor":8}') as unknown
    assert.equal(getPath(parsed, ['__proto__', 'price']), 7)
    assert.equal(getPath(parsed, ['constructor']), 8)
  })
})
