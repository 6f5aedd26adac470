import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CompileError, compileSolidity, lineColumn } from './compile.ts'

describe('compileSolidity', () => {
  it('compiles to abi, bytecode and deployed bytecode', () => {
    const { artifacts } = compileSolidity({
      sources: {
        'a/Counter.sol':
          'pragma solidity ^0.8.24;\ncontract Counter { uint256 public n; function inc() external { n++; } }\n',
      },
    })
    const [counter] = artifacts
    assert.equal(counter?.contractName, 'Counter')
    assert.equal(counter?.sourceName, 'a/Counter.sol')
    assert.ok(counter?.abi.some((i) => (i as { name?: string }).name === 'inc'))
    assert.match(counter?.bytecode ?? '', /^0x[0-9a-f]{100,}$/)
    assert.match(counter?.deployedBytecode ?? '', /^0x[0-9a-f]{100,}$/)
  })

  it('reports errors as file:line:column and throws', () => {
    const source =
      'pragma solidity ^0.8.24;\n\ncontract Broken {\n  function f() external { undefinedThing(); }\n}\n'
    assert.throws(
      () => compileSolidity({ sources: { 'contracts/Broken.sol': source } }),
      (err: unknown) => {
        assert.ok(err instanceof CompileError)
        const located = err.messages.find((m) => m.severity === 'error')
        assert.equal(located?.location, 'contracts/Broken.sol:4:27')
        assert.match(err.message, /contracts\/Broken\.sol:4:27: error: Undeclared identifier/)
        return true
      },
    )
  })

  it('resolves imports through the callback and fails on missing ones', () => {
    const sources = {
      'Main.sol': 'pragma solidity ^0.8.24;\nimport "lib/L.sol";\ncontract Main is L {}\n',
    }
    const { artifacts } = compileSolidity({
      sources,
      resolveImport: (p) =>
        p === 'lib/L.sol' ? 'pragma solidity ^0.8.24;\ncontract L {}\n' : undefined,
    })
    assert.deepEqual(artifacts.map((a) => a.contractName).sort(), ['L', 'Main'])
    assert.throws(() => compileSolidity({ sources }), /Main\.sol:2:1: error: .*not found/i)
  })

  it('refuses two contracts with the same name', () => {
    assert.throws(
      () =>
        compileSolidity({
          sources: {
            'x/A.sol': 'pragma solidity ^0.8.24;\ncontract A {}\n',
            'y/A.sol': 'pragma solidity ^0.8.24;\ncontract A {}\n',
          },
        }),
      /contract name A is also declared/,
    )
  })

  it('lineColumn counts from 1', () => {
    assert.deepEqual(lineColumn('ab\ncd', 0), { line: 1, column: 1 })
    assert.deepEqual(lineColumn('ab\ncd', 4), { line: 2, column: 2 })
  })
})
