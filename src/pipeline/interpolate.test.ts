import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Decimal } from './decimal.ts'
import {
  InterpolationError,
  interpolate,
  interpolateJson,
  referencedVars,
  valueToString,
} from './interpolate.ts'
import { parseJson, stringifyJson } from './json.ts'
import { Vars, VarsError } from './vars.ts'

const vars = new Vars({
  jobRun: { meta: { n: 5 }, logTopics: ['0xaa', '0xbb'] },
  decode_log: { requestId: `0x${'11'.repeat(32)}`, payment: 10n ** 17n },
  parse: new Decimal(301234n, 2),
  bytes: Uint8Array.from([1, 2]),
  text: 'a "quoted" word',
})

describe('Vars', () => {
  it('reads dotted paths into objects and arrays', () => {
    assert.equal(vars.get('jobRun.meta.n'), 5)
    assert.equal(vars.get('jobRun.logTopics.1'), '0xbb')
  })
  it('names the missing part of a path', () => {
    assert.throws(
      () => vars.get('nope'),
      (e: Error) => e instanceof VarsError && /variable "nope" is not defined/.test(e.message),
    )
    assert.throws(() => vars.get('jobRun.meta.x'), /variable "jobRun.meta.x" is not defined/)
    assert.throws(() => vars.get('jobRun.logTopics.5'), /out of range/)
    assert.throws(() => vars.get('jobRun.meta.n.deeper'), /"jobRun.meta.n" is number/)
    assert.throws(() => vars.get('jobRun.constructor'), /not defined/)
    assert.throws(() => new Vars().set('a.b', 1), /cannot contain/)
  })
})

describe('interpolate', () => {
  it('keeps the type of a whole reference and splices text otherwise', () => {
    assert.equal(interpolate('$(decode_log.payment)', vars), 10n ** 17n)
    assert.equal(interpolate('$( parse )', vars), vars.get('parse'))
    assert.equal(
      interpolate('pay $(decode_log.payment) for $(parse)', vars),
      'pay 100000000000000000 for 3012.34',
    )
    assert.equal(interpolate('no refs', vars), 'no refs')
    assert.equal(valueToString(Uint8Array.from([255])), '0xff')
    assert.deepEqual(referencedVars('$(a.b) and $(c)'), ['a.b', 'c'])
  })

  it('fills JSON templates with typed values', () => {
    const out = interpolateJson(
      '{ "requestId": $(decode_log.requestId), "value": $(parse), "s": "$(text)", "mixed": "id=$(jobRun.meta.n) $(text)", "n": 1.5, "arr": [$(jobRun.meta.n), "$(bytes)"] }',
      vars,
    ) as Record<string, unknown>
    assert.equal(out.requestId, `0x${'11'.repeat(32)}`)
    assert.equal(out.value, vars.get('parse'))
    assert.equal(out.s, 'a "quoted" word')
    assert.equal(out.mixed, 'id=5 a "quoted" word')
    assert.equal(out.n, 1.5)
    assert.deepEqual(out.arr, [5, vars.get('bytes')])
  })

  it('explains bad templates', () => {
    assert.throws(() => interpolateJson('{"a": $(missing)}', vars), VarsError)
    assert.throws(
      () => interpolateJson('{"a": 1', vars),
      (e: Error) => e instanceof InterpolationError && /not valid JSON/.test(e.message),
    )
    assert.throws(() => interpolateJson('{"a": "open', vars), /unterminated string/)
    assert.throws(() => interpolateJson('{"a": $(}', vars), /malformed variable reference/)
  })

  it('does not let a key pollute the prototype', () => {
    const out = interpolateJson('{"__proto__": {"polluted": true}}', vars) as Record<
      string,
      unknown
    >
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
    assert.deepEqual(Object.keys(out), ['__proto__'])
  })
})

describe('exact JSON', () => {
  it('keeps big integers and inexact decimals exact, both ways', () => {
    const text =
      '{"big":123456789012345678901234567890,"small":42,"price":3012.34,"precise":0.10000000000000000555,"neg":-1.5e-3}'
    const v = parseJson(text) as Record<string, unknown>
    assert.equal(v.big, 123456789012345678901234567890n)
    assert.equal(v.small, 42)
    assert.equal(v.price, 3012.34)
    assert.ok(v.precise instanceof Decimal)
    assert.equal(String(v.precise), '0.10000000000000000555')
    assert.equal(v.neg, -0.0015)
    assert.equal(
      stringifyJson(v),
      '{"big":123456789012345678901234567890,"small":42,"price":3012.34,"precise":0.10000000000000000555,"neg":-0.0015}',
    )
    assert.equal(
      stringifyJson({ b: Uint8Array.from([0xab]), m: new Map([['k', 1n]]) }),
      '{"b":"0xab","m":{"k":1}}',
    )
  })
  it('names invalid JSON', () => {
    assert.throws(() => parseJson('{"a":'), /invalid JSON/)
  })
})
