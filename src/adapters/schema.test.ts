import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SchemaError } from './errors.ts'
import {
  checkBridgeRequestData,
  compileSchema,
  parseAdapterSchemaDocument,
  pointerToPath,
} from './schema.ts'

const PAIR_SCHEMA = {
  type: 'object',
  required: ['pair'],
  additionalProperties: false,
  properties: {
    pair: { type: 'string', pattern: '^[A-Z]+-[A-Z]+$' },
    times: { type: 'integer', minimum: 1 },
    sources: { type: 'array', items: { type: 'object', properties: { url: { type: 'string' } } } },
    mode: { enum: ['fast', 'safe'] },
  },
}

describe('compileSchema', () => {
  const schema = compileSchema(PAIR_SCHEMA, 'test schema')

  it('accepts a valid value', () => {
    assert.deepEqual(schema.validate({ pair: 'ETH-USD', times: 100 }), [])
  })

  it('names the path of every violation', () => {
    assert.deepEqual(
      schema.validate({
        times: 0,
        extra: 1,
        sources: [{ url: 'x' }, { url: 5 }],
        mode: 'slow',
        'odd key': 1,
      }),
      [
        { path: 'data.pair', message: 'is required' },
        { path: 'data.extra', message: 'is not allowed here (unknown property)' },
        { path: 'data["odd key"]', message: 'is not allowed here (unknown property)' },
        { path: 'data.times', message: 'must be >= 1' },
        { path: 'data.sources[1].url', message: 'must be string' },
        { path: 'data.mode', message: 'must be one of "fast", "safe"' },
      ],
    )
    assert.deepEqual(schema.validate('nope', 'input'), [
      { path: 'input', message: 'must be object' },
    ])
  })

  it('reads draft-07 schemas when $schema says so', () => {
    const draft7 = compileSchema(
      {
        $schema: 'http://json-schema.org/draft-07/schema#',
        type: 'array',
        items: [{ type: 'string' }, { type: 'number' }],
      },
      'draft-07 schema',
    )
    assert.deepEqual(draft7.validate(['a', 1]), [])
    assert.deepEqual(draft7.validate(['a', 'b']), [{ path: 'data[1]', message: 'must be number' }])
  })

  it('ignores unknown keywords and formats', () => {
    const s = compileSchema({ type: 'string', format: 'no-such-format', 'x-note': 1 }, 's')
    assert.deepEqual(s.validate('anything'), [])
  })

  it('refuses schemas that do not compile, naming them', () => {
    assert.throws(
      () => compileSchema({ type: 'nonsense' }, 'adapter "x" input schema'),
      (err: unknown) =>
        err instanceof SchemaError &&
        /adapter "x" input schema is not a valid JSON Schema/.test(err.shortMessage),
    )
    assert.throws(
      () => compileSchema({ $schema: 'http://json-schema.org/draft-04/schema#' }, 'old'),
      /old: unsupported \$schema/,
    )
    assert.throws(() => compileSchema([] as never, 'arr'), /arr must be an object or a boolean/)
  })

  it('formats pointers as paths', () => {
    assert.equal(pointerToPath(''), 'data')
    assert.equal(pointerToPath('/a/0/b~1c/d~0e'), 'data.a[0]["b/c"]["d~e"]')
  })
})

describe('parseAdapterSchemaDocument', () => {
  it('reads {name, input, output}', () => {
    const doc = parseAdapterSchemaDocument({ name: 'price', input: PAIR_SCHEMA, output: true })
    assert.equal(doc.name, 'price')
    assert.equal(doc.output, true)
  })

  it('refuses anything else with a clear error', () => {
    for (const [value, pattern] of [
      [null, /expected an object/],
      [[], /expected an object/],
      [{ input: {}, output: {} }, /"name" must be a non-empty string/],
      [{ name: 'x', input: 'string', output: {} }, /"input" must be a JSON Schema/],
      [{ name: 'x', input: {}, output: { type: 5 } }, /output schema is not a valid JSON Schema/],
    ] as const) {
      assert.throws(() => parseAdapterSchemaDocument(value), pattern)
    }
  })
})

describe('checkBridgeRequestData', () => {
  it('accepts a valid literal requestData, with or without the data key', () => {
    assert.deepEqual(checkBridgeRequestData(PAIR_SCHEMA, '{"data": {"pair": "ETH-USD"}}'), [])
    assert.deepEqual(checkBridgeRequestData(PAIR_SCHEMA, '{"pair": "ETH-USD", "times": 5}'), [])
    assert.deepEqual(checkBridgeRequestData(PAIR_SCHEMA, { data: { pair: 'BTC-USD' } }), [])
  })

  it('reports literal violations with their paths', () => {
    assert.deepEqual(checkBridgeRequestData(PAIR_SCHEMA, '{"data": {"pair": "eth", "tims": 1}}'), [
      { path: 'data.tims', message: 'is not allowed here (unknown property)' },
      { path: 'data.pair', message: 'must match pattern "^[A-Z]+-[A-Z]+$"' },
    ])
    assert.deepEqual(checkBridgeRequestData(PAIR_SCHEMA, ''), [
      { path: 'data.pair', message: 'is required' },
    ])
    assert.deepEqual(checkBridgeRequestData(PAIR_SCHEMA, undefined), [
      { path: 'data.pair', message: 'is required' },
    ])
  })

  it('trusts $(var) references but still checks the literals around them', () => {
    // A variable may hold any value: no type or pattern error at its place.
    assert.deepEqual(
      checkBridgeRequestData(PAIR_SCHEMA, '{"data": {"pair": $(decode_cbor.pair)}}'),
      [],
    )
    assert.deepEqual(checkBridgeRequestData(PAIR_SCHEMA, '{"pair": "$(p)-USD", "times": $(t)}'), [])
    assert.deepEqual(
      checkBridgeRequestData(PAIR_SCHEMA, '{"data": {"sources": [{"url": $(u)}], "times": "100"}}'),
      [
        { path: 'data.pair', message: 'is required' },
        { path: 'data.times', message: 'must be integer' },
      ],
    )
    // The whole data from a variable: nothing can be checked.
    assert.deepEqual(checkBridgeRequestData(PAIR_SCHEMA, '{"data": $(x)}'), [])
  })

  it('reports a template that is not JSON as a violation of requestData', () => {
    const [v] = checkBridgeRequestData(PAIR_SCHEMA, '{"data": {"pair": }')
    assert.equal(v?.path, 'requestData')
    assert.match(v!.message, /is not a valid JSON template/)
  })

  it('refuses an input schema that does not compile', () => {
    assert.throws(() => checkBridgeRequestData({ type: 1 }, '{}'), SchemaError)
  })
})
