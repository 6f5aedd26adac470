import { randomBytes } from 'node:crypto'
import { type Address, encodeAbiParameters, type Hex, keccak256 } from 'viem'

/**
 * The commit–reveal aggregator's commitment (DESIGN.md §5, ICommitRevealAggregator):
 * `keccak256(abi.encode(chainId, aggregator, configVersion, roundId, oracle, value, salt))`.
 * Binding the chain, the contract, the configuration, the round and the oracle means a
 * commitment opens only for the oracle that made it, in the round it was made for.
 */
export type CommitmentInput = {
  chainId: number | bigint
  aggregator: Address
  configVersion: number | bigint
  roundId: bigint
  oracle: Address
  value: bigint
  salt: Hex
}

const COMMITMENT_PARAMS = [
  { type: 'uint256' },
  { type: 'address' },
  { type: 'uint256' },
  { type: 'uint256' },
  { type: 'address' },
  { type: 'int256' },
  { type: 'bytes32' },
] as const

export function commitmentOf(input: CommitmentInput): Hex {
  return keccak256(
    encodeAbiParameters(COMMITMENT_PARAMS, [
      BigInt(input.chainId),
      input.aggregator,
      BigInt(input.configVersion),
      input.roundId,
      input.oracle,
      input.value,
      input.salt,
    ]),
  )
}

/** A committee's configuration (`ICommitRevealAggregator.Config`). */
export type CommitRevealConfig = {
  oracles: Address[]
  f: number
  minReveals: number
  commitWindow: number
  revealWindow: number
  paymentPerAnswer: bigint
  minAnswer: bigint
  maxAnswer: bigint
  aggregation: Address
  callbackGasLimit: number
  agreementBps: number
}

/** Round status as `getRound` returns it. */
export const ROUND_STATUS = ['None', 'Open', 'Finalized', 'Failed'] as const
export type RoundStatusName = (typeof ROUND_STATUS)[number]

/** A fresh random 32-byte salt: it hides the value until the reveal, so it must be unguessable. */
export function randomSalt(): Hex {
  return `0x${randomBytes(32).toString('hex')}`
}
