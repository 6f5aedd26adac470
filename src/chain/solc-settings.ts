/**
 * The one place where the Solidity compiler settings live. The build, the tests and the gas
 * benchmark (which also compiles the reference contracts) all use these, so figures compare.
 */
export const SOLC_SETTINGS = {
  optimizer: { enabled: true, runs: 20_000 },
  viaIR: true,
  evmVersion: 'cancun',
  metadata: { bytecodeHash: 'none' },
  outputSelection: {
    '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] },
  },
} as const
