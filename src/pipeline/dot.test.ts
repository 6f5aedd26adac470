import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { DotError, parseDot, renderDot } from './dot.ts'

const fails = (text: string, line: number, column: number, pattern: RegExp) => {
  assert.throws(
    () => parseDot(text),
    (err: unknown) => {
      assert.ok(err instanceof DotError, String(err))
      assert.deepEqual([err.line, err.column], [line, column], err.message)
      assert.match(err.message, pattern)
      return true
    },
  )
}

describe('parseDot', () => {
  it('parses bare statements and digraph wrappers alike', () => {
    const bare = parseDot('a [type=http url="x"]\nb [type=jsonparse]\na -> b')
    const wrapped = parseDot(
      'strict digraph pipeline { a [type=http url="x"]; b [type=jsonparse]; a -> b; }',
    )
    const shape = (g: typeof bare) => [
      g.nodes.map((n) => [n.id, { ...n.attrs }]),
      g.edges.map((e) => [e.from, e.to]),
    ]
    assert.deepEqual(shape(bare), shape(wrapped))
    assert.equal(bare.name, undefined)
    assert.equal(wrapped.name, 'pipeline')
    assert.deepEqual(
      wrapped.nodes.map((n) => [n.id, { ...n.attrs }]),
      [
        ['a', { type: 'http', url: 'x' }],
        ['b', { type: 'jsonparse' }],
      ],
    )
    assert.deepEqual(
      wrapped.edges.map((e) => [e.from, e.to]),
      [['a', 'b']],
    )
  })

  it('expands chains, keeps several roots and fan-in', () => {
    const g = parseDot(`
      ds1 [type=http]  ds2 [type=http]
      p1 [type=jsonparse] p2 [type=jsonparse]
      med [type=median]
      ds1 -> p1 -> med
      ds2 -> p2 -> med
    `)
    assert.deepEqual(
      g.edges.map((e) => `${e.from}>${e.to}`),
      ['ds1>p1', 'p1>med', 'ds2>p2', 'p2>med'],
    )
  })

  it('reads quoted strings with escapes, continuations, concatenation and comments', () => {
    const g = parseDot(
      [
        '# preprocessor-style comment',
        'a [type="ethabiencode" // trailing comment',
        '   data="{\\"requestId\\": $(x)}" /* block',
        '   comment */ abi="f(uint256 v)"',
        '   long="one \\',
        'two" joined="a" + "b", semi="x";]',
      ].join('\n'),
    )
    assert.deepEqual(
      { ...g.nodes[0]!.attrs },
      {
        type: 'ethabiencode',
        data: '{"requestId": $(x)}',
        abi: 'f(uint256 v)',
        long: 'one two',
        joined: 'ab',
        semi: 'x',
      },
    )
    assert.deepEqual(g.nodes[0]!.attrPositions.data, { line: 3, column: 9 })
  })

  it('keeps a backslash that escapes nothing', () => {
    assert.equal(parseDot('a [path="x\\\\y\\n"]').nodes[0]!.attrs.path, 'x\\\\y\\n')
  })

  it('names every error with its line and column', () => {
    fails('a [type=x]\nb [type=y]\na -> c', 3, 6, /task c, which is not declared/)
    fails('a [type=x]\n\n  a [type=y]', 3, 3, /declared twice \(first at 1:1\)/)
    fails('a [type=x', 1, 10, /expected an attribute name but found the end/)
    fails('a [type="x]', 1, 9, /unterminated quoted string/)
    fails('a [type=x]\nb [type=x]\na -- b', 3, 3, /undirected edge/)
    fails('a [type=x type=y]', 1, 11, /given twice/)
    fails('graph { a }', 1, 1, /must be a digraph/)
    fails('digraph { a [type=x]', 1, 21, /missing "}"/)
    fails('a [type=x] }', 1, 12, /unexpected "}"/)
    fails('subgraph s { a }', 1, 1, /subgraphs are not supported/)
    fails('a [type=x] /* never closed', 1, 12, /unterminated comment/)
    fails('a [type=<b>x</b>]', 1, 9, /HTML strings/)
    fails('a [type=x] @', 1, 12, /unexpected character "@"/)
  })

  it('renders a canonical form that ignores order and formatting', () => {
    const one = parseDot('b [type=y x="1" a="2"]\na [type=x]\na -> b')
    const two = parseDot('digraph {\n  a [type="x"]\n  b [a="2", type="y", x="1"]\n  a -> b\n}')
    assert.equal(renderDot(one), renderDot(two))
    assert.deepEqual(
      parseDot(renderDot(one)).nodes.map((n) => ({ ...n.attrs })),
      [{ a: '2', type: 'y', x: '1' }, { type: 'x' }].reverse(),
    )
  })

  it('never crashes: any input parses or throws a DotError with a position (fast-check)', () => {
    const alphabet = fc.constantFrom(
      ...'ab_1 \n\t[]{}=;,:+"\\-></#*'.split(''),
      '->',
      'digraph',
      'type=',
      '$(x)',
      '"q"',
    )
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 60 }).map((a) => a.join('')),
        (text) => {
          try {
            parseDot(text)
          } catch (err) {
            assert.ok(
              err instanceof DotError,
              `non-DotError for ${JSON.stringify(text)}: ${String(err)}`,
            )
            assert.ok(err.line >= 1 && err.column >= 1)
          }
        },
      ),
      { numRuns: 3000 },
    )
    fc.assert(
      fc.property(fc.string({ maxLength: 80, unit: 'binary' }), (text) => {
        try {
          parseDot(text)
        } catch (err) {
          assert.ok(err instanceof DotError, String(err))
        }
      }),
      { numRuns: 2000 },
    )
  })
})
