import { BaseError } from '../errors.ts'

/**
 * A parser for the subset of Graphviz DOT that job specs use in `observationSource`:
 * `digraph [name] { ... }` or bare statements, node statements with attribute lists, edge
 * chains `a -> b -> c`, quoted strings (with `\"` escapes, line continuations and `+`
 * concatenation), and `//`, `/* *\/` and `#` comments. Every error carries a line and column.
 */

export type Position = { line: number; column: number }

export class DotError extends BaseError {
  override name = 'DotError'
  readonly line: number
  readonly column: number
  constructor(message: string, pos: Position) {
    super(`${pos.line}:${pos.column}: ${message}`)
    this.line = pos.line
    this.column = pos.column
  }
}

export type DotNode = Position & {
  id: string
  attrs: Record<string, string>
  /** Where each attribute's value starts. */
  attrPositions: Record<string, Position>
}
export type DotEdge = Position & { from: string; to: string }
export type DotGraph = { name: string | undefined; nodes: DotNode[]; edges: DotEdge[] }

type Token =
  | (Position & { kind: 'id'; value: string; quoted: boolean })
  | (Position & { kind: 'punct'; value: string })
  | (Position & { kind: 'eof'; value: '' })

const PUNCT = ['->', '--', '{', '}', '[', ']', '=', ';', ',', ':', '+'] as const
const KEYWORDS = new Set(['strict', 'graph', 'digraph', 'node', 'edge', 'subgraph'])

function tokenize(text: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  let line = 1
  let lineStart = 0
  const pos = (at: number): Position => ({ line, column: at - lineStart + 1 })
  const newline = (at: number) => {
    line++
    lineStart = at + 1
  }
  while (i < text.length) {
    const ch = text[i]!
    if (ch === '\n') {
      newline(i)
      i++
    } else if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\f' || ch === '\v') {
      i++
    } else if (ch === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++
    } else if (ch === '#' && text.slice(lineStart, i).trim() === '') {
      while (i < text.length && text[i] !== '\n') i++
    } else if (ch === '/' && text[i + 1] === '*') {
      const start = pos(i)
      i += 2
      while (i < text.length && !(text[i] === '*' && text[i + 1] === '/')) {
        if (text[i] === '\n') newline(i)
        i++
      }
      if (i >= text.length) throw new DotError('unterminated comment', start)
      i += 2
    } else if (ch === '"') {
      const start = pos(i)
      let value = ''
      i++
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && text[i + 1] === '"') {
          value += '"'
          i += 2
        } else if (text[i] === '\\' && text[i + 1] === '\n') {
          newline(i + 1)
          i += 2
        } else if (text[i] === '\\' && text[i + 1] === '\r' && text[i + 2] === '\n') {
          newline(i + 2)
          i += 3
        } else {
          if (text[i] === '\n') newline(i)
          value += text[i]
          i++
        }
      }
      if (i >= text.length) throw new DotError('unterminated quoted string', start)
      i++
      tokens.push({ kind: 'id', value, quoted: true, ...start })
    } else if (/[A-Za-z_\u0080-\uffff]/.test(ch)) {
      const start = pos(i)
      let j = i
      while (j < text.length && /[A-Za-z0-9_\u0080-\uffff]/.test(text[j]!)) j++
      tokens.push({ kind: 'id', value: text.slice(i, j), quoted: false, ...start })
      i = j
    } else if (/[0-9.]/.test(ch) || (ch === '-' && /[0-9.]/.test(text[i + 1] ?? ''))) {
      const start = pos(i)
      const m = /^-?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)/.exec(text.slice(i))
      if (!m) throw new DotError(`unexpected character ${JSON.stringify(ch)}`, start)
      tokens.push({ kind: 'id', value: m[0], quoted: false, ...start })
      i += m[0].length
    } else if (ch === '<') {
      throw new DotError('HTML strings (<...>) are not supported; use a quoted string', pos(i))
    } else {
      const p = PUNCT.find((t) => text.startsWith(t, i))
      if (!p) throw new DotError(`unexpected character ${JSON.stringify(ch)}`, pos(i))
      tokens.push({ kind: 'punct', value: p, ...pos(i) })
      i += p.length
    }
  }
  tokens.push({ kind: 'eof', value: '', ...pos(i) })
  return tokens
}

class Parser {
  readonly #tokens: Token[]
  #i = 0
  readonly nodes = new Map<string, DotNode>()
  readonly edges: DotEdge[] = []
  /** First place each id appears in an edge, for dangling-edge errors. */
  readonly references = new Map<string, Position>()

  constructor(tokens: Token[]) {
    this.#tokens = tokens
  }

  peek(offset = 0): Token {
    return this.#tokens[Math.min(this.#i + offset, this.#tokens.length - 1)]!
  }
  next(): Token {
    const t = this.peek()
    if (t.kind !== 'eof') this.#i++
    return t
  }
  isPunct(value: string, offset = 0): boolean {
    const t = this.peek(offset)
    return t.kind === 'punct' && t.value === value
  }
  expectPunct(value: string): Token {
    const t = this.next()
    if (t.kind !== 'punct' || t.value !== value) {
      throw new DotError(`expected "${value}" but found ${describeToken(t)}`, t)
    }
    return t
  }
  /** An ID, joining quoted strings with `+`. */
  expectId(what: string): Token & { kind: 'id' } {
    const t = this.next()
    if (t.kind !== 'id') throw new DotError(`expected ${what} but found ${describeToken(t)}`, t)
    if (t.quoted) {
      let value = t.value
      while (
        this.isPunct('+') &&
        this.peek(1).kind === 'id' &&
        (this.peek(1) as { quoted?: boolean }).quoted
      ) {
        this.next()
        value += (this.next() as Token & { kind: 'id' }).value
      }
      return { ...t, value }
    }
    return t
  }

  parseGraph(): string | undefined {
    const first = this.peek()
    const wrapped =
      first.kind === 'id' && !first.quoted && ['strict', 'graph', 'digraph'].includes(first.value)
    if (!wrapped) {
      this.parseStatements(true)
      return undefined
    }
    if (first.value === 'strict') this.next()
    const kind = this.next()
    if (kind.kind !== 'id' || kind.value !== 'digraph') {
      throw new DotError('the pipeline must be a digraph (directed graph)', kind)
    }
    let name: string | undefined
    if (this.peek().kind === 'id') name = this.expectId('a graph name').value
    this.expectPunct('{')
    this.parseStatements(false)
    this.expectPunct('}')
    const rest = this.peek()
    if (rest.kind !== 'eof')
      throw new DotError(`unexpected ${describeToken(rest)} after the graph`, rest)
    return name
  }

  parseStatements(bare: boolean): void {
    for (;;) {
      const t = this.peek()
      if (t.kind === 'eof') {
        if (!bare) throw new DotError('missing "}" at the end of the graph', t)
        return
      }
      if (t.kind === 'punct' && t.value === '}') {
        if (bare) throw new DotError('unexpected "}"', t)
        return
      }
      if (t.kind === 'punct' && t.value === ';') {
        this.next()
        continue
      }
      this.parseStatement()
    }
  }

  parseStatement(): void {
    const t = this.peek()
    if (t.kind === 'punct') {
      if (t.value === '{') throw new DotError('anonymous subgraphs are not supported', t)
      throw new DotError(`unexpected ${describeToken(t)}`, t)
    }
    if (t.kind === 'id' && !t.quoted && KEYWORDS.has(t.value)) {
      if (t.value === 'subgraph') throw new DotError('subgraphs are not supported', t)
      if (t.value === 'node' || t.value === 'edge' || t.value === 'graph') {
        throw new DotError(`default attribute statements ("${t.value} [...]") are not supported`, t)
      }
      throw new DotError(`"${t.value}" cannot start a statement`, t)
    }
    const id = this.expectId('a task id')
    if (this.isPunct('=')) {
      // A graph attribute (`rankdir=LR`): accepted and ignored.
      this.next()
      this.expectId('a value')
      return
    }
    if (this.isPunct(':')) throw new DotError('ports (id:port) are not supported', this.peek())
    if (this.isPunct('->') || this.isPunct('--')) {
      const chain: (Token & { kind: 'id' })[] = [id]
      while (this.isPunct('->') || this.isPunct('--')) {
        const arrow = this.next()
        if (arrow.value === '--')
          throw new DotError('undirected edge "--" in a digraph; use "->"', arrow)
        const next = this.peek()
        if (next.kind === 'punct' && next.value === '{')
          throw new DotError('edge groups ({a b}) are not supported', next)
        chain.push(this.expectId('a task id after "->"'))
      }
      // Edge attributes are parsed and ignored.
      while (this.isPunct('[')) this.parseAttrList()
      for (let k = 0; k + 1 < chain.length; k++) {
        const from = chain[k]!
        const to = chain[k + 1]!
        for (const end of [from, to])
          if (!this.references.has(end.value)) this.references.set(end.value, end)
        this.edges.push({ from: from.value, to: to.value, line: to.line, column: to.column })
      }
      return
    }
    const node: DotNode = {
      id: id.value,
      attrs: {},
      attrPositions: {},
      line: id.line,
      column: id.column,
    }
    while (this.isPunct('[')) {
      for (const [key, value] of this.parseAttrList()) {
        if (Object.hasOwn(node.attrs, key.value)) {
          throw new DotError(`attribute "${key.value}" is given twice for task ${id.value}`, key)
        }
        node.attrs[key.value] = value.value
        node.attrPositions[key.value] = { line: value.line, column: value.column }
      }
    }
    if (this.nodes.has(id.value)) {
      const first = this.nodes.get(id.value)!
      throw new DotError(
        `task ${id.value} is declared twice (first at ${first.line}:${first.column})`,
        id,
      )
    }
    Object.setPrototypeOf(node.attrs, null)
    this.nodes.set(id.value, node)
  }

  parseAttrList(): [Token & { kind: 'id' }, Token & { kind: 'id' }][] {
    this.expectPunct('[')
    const out: [Token & { kind: 'id' }, Token & { kind: 'id' }][] = []
    while (!this.isPunct(']')) {
      const key = this.expectId('an attribute name')
      this.expectPunct('=')
      const value = this.expectId(`a value for ${key.value}`)
      out.push([key, value])
      if (this.isPunct(',') || this.isPunct(';')) this.next()
    }
    this.expectPunct(']')
    return out
  }
}

function describeToken(t: Token): string {
  if (t.kind === 'eof') return 'the end of the input'
  if (t.kind === 'id') return t.quoted ? `"${t.value.slice(0, 30)}"` : `"${t.value}"`
  return `"${t.value}"`
}

/**
 * Parses DOT text into nodes (in declaration order) and edges. Every edge end must be a
 * declared node (a task with attributes); duplicates, undirected edges and unsupported DOT
 * features are errors with positions.
 */
export function parseDot(text: string): DotGraph {
  const parser = new Parser(tokenize(text))
  const name = parser.parseGraph()
  for (const [id, pos] of parser.references) {
    if (!parser.nodes.has(id))
      throw new DotError(`edge refers to task ${id}, which is not declared`, pos)
  }
  return { name, nodes: [...parser.nodes.values()], edges: parser.edges }
}

/** Canonical DOT text: nodes sorted by id with sorted attributes, then sorted edges. */
export function renderDot(graph: DotGraph): string {
  const quote = (s: string) => `"${s.replace(/"/g, '\\"')}"`
  const lines = ['digraph {']
  for (const node of [...graph.nodes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const attrs = Object.keys(node.attrs)
      .sort()
      .map((k) => `${k}=${quote(node.attrs[k]!)}`)
    lines.push(`  ${quote(node.id)} [${attrs.join(' ')}]`)
  }
  const edges = graph.edges.map((e) => `  ${quote(e.from)} -> ${quote(e.to)}`).sort()
  lines.push(...new Set(edges), '}')
  return `${lines.join('\n')}\n`
}
