import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { type Artifact, compileSolidity } from '../src/chain/compile.ts'

/**
 * Reference contracts measured side by side with ours. They are fetched from the npm registry
 * with `npm pack` at bench time (never committed, never copied into our sources) and compiled
 * with our pinned solc and settings, so the comparison is like for like.
 */
const CACHE = resolve(import.meta.dirname, '..', '.cache', 'reference')

/** Unpacks `name@version` from the npm registry into the cache; returns its folder. */
export function fetchPackage(name: string, version: string): string {
  const dir = join(CACHE, `${name.replace('/', '+')}@${version}`)
  if (existsSync(join(dir, 'package.json'))) return dir
  mkdirSync(dir, { recursive: true })
  const tarball = execFileSync(
    'npm',
    ['pack', `${name}@${version}`, '--pack-destination', CACHE, '--silent', '--ignore-scripts'],
    { encoding: 'utf8', cwd: CACHE },
  )
    .trim()
    .split('\n')
    .at(-1)!
  execFileSync('tar', ['xzf', join(CACHE, tarball), '-C', dir, '--strip-components=1'])
  return dir
}

/** Chainlink's Operator 1.0.0 from `@chainlink/contracts`, compiled with our settings. */
export function compileChainlinkOperator(): Artifact {
  const chainlink = fetchPackage('@chainlink/contracts', '1.5.0')
  const openzeppelin = fetchPackage('@openzeppelin/contracts', '4.8.3')
  const entry = 'src/v0.8/operatorforwarder/Operator.sol'
  // Their files pin `pragma solidity 0.8.19`; let our pinned compiler accept them.
  const read = (path: string) =>
    readFileSync(path, 'utf8').replace(/pragma solidity 0\.8\.19;/, 'pragma solidity ^0.8.19;')
  const { artifacts } = compileSolidity({
    sources: { [entry]: read(join(chainlink, entry)) },
    resolveImport: (path) => {
      const oz = '@openzeppelin/contracts@4.8.3/'
      const file = path.startsWith(oz)
        ? join(openzeppelin, path.slice(oz.length))
        : join(chainlink, path)
      return existsSync(file) ? read(file) : undefined
    },
  })
  const operator = artifacts.find((a) => a.contractName === 'Operator' && a.sourceName === entry)
  if (!operator) throw new Error('Chainlink Operator did not compile to an artifact')
  return operator
}
