import {
  type Address,
  encodeAbiParameters,
  getAddress,
  type Hex,
  keccak256,
  recoverMessageAddress,
} from 'viem'

/**
 * The report an OCA round signs (issue 7): the median of at least 2f+1 signed observations,
 * bound to the ThresholdAggregator's config digest and the round, exactly as the contract
 * rebuilds it (`reportMessage`).
 */

/** One member's observation, signed with its oracle key (EIP-191 over `observationDigest`). */
export type SignedObservation = { index: number; value: bigint; signature: Hex }

/** What a member signs for its observation: domain, digest, round, value. */
export function observationDigest(configDigest: Hex, round: number, value: bigint): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: 'string' }, { type: 'bytes32' }, { type: 'uint32' }, { type: 'int192' }],
      ['orakel/oca/observation/v1', configDigest, round, value],
    ),
  )
}

/** Whether `o` is signed by `oracle` (the member at its index). */
export async function observationIsFrom(
  configDigest: Hex,
  round: number,
  o: SignedObservation,
  oracle: Address,
): Promise<boolean> {
  try {
    const signer = await recoverMessageAddress({
      message: { raw: observationDigest(configDigest, round, o.value) },
      signature: o.signature,
    })
    return getAddress(signer) === getAddress(oracle)
  } catch {
    return false
  }
}

/** The median (the lower of the two middle values for an even count), as the report's answer. */
export function medianOf(values: readonly bigint[]): bigint {
  if (values.length === 0) throw new Error('no values')
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  return sorted[Math.floor((sorted.length - 1) / 2)] as bigint
}

/** Hash of the observation set, sorted by member index. */
export function observationsHash(observations: readonly SignedObservation[]): Hex {
  const sorted = [...observations].sort((a, b) => a.index - b.index)
  return keccak256(
    encodeAbiParameters(
      [{ type: 'uint8[]' }, { type: 'int192[]' }],
      [sorted.map((o) => o.index), sorted.map((o) => o.value)],
    ),
  )
}

export type Report = { round: number; answer: bigint; observationsHash: Hex }

export function reportOf(round: number, observations: readonly SignedObservation[]): Report {
  return {
    round,
    answer: medianOf(observations.map((o) => o.value)),
    observationsHash: observationsHash(observations),
  }
}

/** `keccak256(abi.encode(configDigest, round, answer, observationsHash))`, the signed message. */
export function reportMessage(configDigest: Hex, report: Report): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: 'bytes32' }, { type: 'uint32' }, { type: 'int192' }, { type: 'bytes32' }],
      [configDigest, report.round, report.answer, report.observationsHash],
    ),
  )
}

/**
 * The ThresholdAggregator's config digest, as its constructor computes it:
 * `keccak256(abi.encode(chainid, aggregator, keccak256(abi.encodePacked(oracles)), f, epoch))`
 * (`abi.encodePacked` pads array elements to 32 bytes). Known before deployment when the
 * aggregator's address is (a CREATE address), so the committee's DKG can be bound to it.
 */
export function configDigestOf(params: {
  chainId: number | bigint
  aggregator: Address
  oracles: readonly Address[]
  f: number
  epoch: number
}): Hex {
  const committeeHash = keccak256(
    `0x${params.oracles.map((o) => o.slice(2).toLowerCase().padStart(64, '0')).join('')}` as Hex,
  )
  return keccak256(
    encodeAbiParameters(
      [
        { type: 'uint256' },
        { type: 'address' },
        { type: 'bytes32' },
        { type: 'uint8' },
        { type: 'uint32' },
      ],
      [BigInt(params.chainId), params.aggregator, committeeHash, params.f, params.epoch],
    ),
  )
}
