import { createRequire } from 'node:module'
import { BaseError } from '../errors.ts'
import { SOLC_SETTINGS } from './solc-settings.ts'

const require = createRequire(import.meta.url)

/** A compiled contract, as written to `artifacts/<contractName>.json`. */
export type Artifact = {
  contractName: string
  sourceName: string
  abi: readonly unknown[]
  bytecode: `0x${string}`
  deployedBytecode: `0x${string}`
}

export type CompilerMessage = {
  severity: 'error' | 'warning' | 'info'
  /** `file:line:column` when solc gave a location. */
  location: string | undefined
  message: string
}

export class CompileError extends BaseError {
  override name = 'CompileError'
  readonly messages: CompilerMessage[]
  constructor(messages: CompilerMessage[]) {
    const errors = messages.filter((m) => m.severity === 'error')
    super(`Solidity compilation failed with ${errors.length} error(s)`, {
      metaMessages: errors.map(formatMessage),
    })
    this.messages = messages
  }
}

export function formatMessage(m: CompilerMessage): string {
  return `${m.location ?? '<unknown>'}: ${m.severity}: ${m.message}`
}

type SolcOutputError = {
  severity: 'error' | 'warning' | 'info'
  message: string
  formattedMessage?: string
  sourceLocation?: { file: string; start: number; end: number }
}
type SolcOutput = {
  errors?: SolcOutputError[]
  contracts?: Record<
    string,
    Record<
      string,
      {
        abi: unknown[]
        evm: { bytecode: { object: string }; deployedBytecode: { object: string } }
      }
    >
  >
}

type Solc = { compile(input: string, options?: { import?: (path: string) => unknown }): string }
let solc: Solc | undefined
function loadSolc(): Solc {
  solc ??= require('solc') as Solc
  return solc
}

/** The version of the bundled solc-js compiler, e.g. `0.8.30+commit.73712a01.Emscripten.clang`. */
export function solcVersion(): string {
  return (loadSolc() as unknown as { version(): string }).version()
}

/** 1-based line and column of a character offset in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1
  let lineStart = 0
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++
      lineStart = i + 1
    }
  }
  return { line, column: offset - lineStart + 1 }
}

export type CompileParameters = {
  /** Source unit name → Solidity text. */
  sources: Record<string, string>
  /** Resolves an import that is not among `sources`; returns its text or undefined. */
  resolveImport?: (path: string) => string | undefined
}

export type CompileResult = {
  artifacts: Artifact[]
  warnings: CompilerMessage[]
}

/**
 * Compiles Solidity sources with the pinned solc-js (never downloads a compiler). Throws
 * `CompileError` with every error located as `file:line:column`.
 */
export function compileSolidity({ sources, resolveImport }: CompileParameters): CompileResult {
  const texts = new Map(Object.entries(sources))
  const input = {
    language: 'Solidity',
    sources: Object.fromEntries([...texts].map(([name, content]) => [name, { content }])),
    settings: SOLC_SETTINGS,
  }
  const output = JSON.parse(
    loadSolc().compile(JSON.stringify(input), {
      import: (path: string) => {
        const text = resolveImport?.(path)
        if (text === undefined) return { error: `File not found: ${path}` }
        texts.set(path, text)
        return { contents: text }
      },
    }),
  ) as SolcOutput

  const messages: CompilerMessage[] = (output.errors ?? []).map((e) => {
    let location: string | undefined
    if (e.sourceLocation && e.sourceLocation.start >= 0) {
      const text = texts.get(e.sourceLocation.file) ?? ''
      const { line, column } = lineColumn(text, e.sourceLocation.start)
      location = `${e.sourceLocation.file}:${line}:${column}`
    } else if (e.sourceLocation) {
      location = e.sourceLocation.file
    }
    return { severity: e.severity, location, message: e.message }
  })
  if (messages.some((m) => m.severity === 'error')) throw new CompileError(messages)

  const artifacts: Artifact[] = []
  const seen = new Map<string, string>()
  for (const [sourceName, contracts] of Object.entries(output.contracts ?? {})) {
    for (const [contractName, c] of Object.entries(contracts)) {
      const previous = seen.get(contractName)
      if (previous !== undefined && previous !== sourceName) {
        throw new CompileError([
          {
            severity: 'error',
            location: sourceName,
            message: `contract name ${contractName} is also declared in ${previous}; artifact names must be unique`,
          },
        ])
      }
      seen.set(contractName, sourceName)
      artifacts.push({
        contractName,
        sourceName,
        abi: c.abi,
        bytecode: `0x${c.evm.bytecode.object}`,
        deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
      })
    }
  }
  return { artifacts, warnings: messages.filter((m) => m.severity !== 'error') }
}
