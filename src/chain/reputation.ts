import { type Address, getAddress, type Hex, isAddress, isHex, type PublicClient } from 'viem'
import { IReputationAbi } from '../../artifacts/abis.ts'
import { BaseError } from '../errors.ts'
import { specIdOf } from '../node/directrequest.ts'

/**
 * Reading the reputation contract (contracts/reputation, whitepaper §5.2) for people: each
 * oracle's record for one spec id with the rates derived from it, as the node's API
 * (`GET /v2/reputation/<oracle>`) and `orakel reputation` show them. Nothing is stored twice:
 * rates and the score are the contract's own views.
 */

export class ReputationQueryError extends BaseError {
  override name = 'ReputationQueryError'
}

export type ReputationView = {
  oracle: Address
  specId: Hex
  assigned: number
  completed: number
  accepted: number
  missed: number
  /** LINK (juels) locked as deposits over time, and forfeited as penalties. */
  depositsLocked: bigint
  penaltiesPaid: bigint
  totalResponseSeconds: bigint
  completionRateBps: bigint
  accuracyRateBps: bigint
  averageResponseSeconds: bigint
  /** What the market selects by (basis points). */
  score: bigint
}

/** A spec id as bytes32 hex, or a job's externalJobID (UUID) turned into its spec id. */
export function parseSpecId(text: string): Hex {
  if (isHex(text) && text.length === 66) return text.toLowerCase() as Hex
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text))
    return specIdOf(text.toLowerCase())
  throw new ReputationQueryError(`invalid spec id ${JSON.stringify(text)}`, {
    details: 'expected 0x + 64 hex digits, or a job externalJobID (UUID)',
  })
}

export function parseOracle(text: string, what = 'oracle'): Address {
  if (!isAddress(text, { strict: false }))
    throw new ReputationQueryError(`invalid ${what} address ${JSON.stringify(text)}`)
  return getAddress(text)
}

export async function readReputation(
  client: Pick<PublicClient, 'readContract'>,
  contract: Address,
  oracles: readonly Address[],
  specId: Hex,
): Promise<ReputationView[]> {
  const read = (
    functionName: 'completionRateBps' | 'accuracyRateBps' | 'averageResponseSeconds',
    oracle: Address,
  ): Promise<bigint> =>
    client.readContract({
      address: contract,
      abi: IReputationAbi,
      functionName,
      args: [oracle, specId],
    } as Parameters<typeof client.readContract>[0]) as Promise<bigint>
  const [records, scores] = await Promise.all([
    client.readContract({
      address: contract,
      abi: IReputationAbi,
      functionName: 'getRecords',
      args: [[...oracles], specId],
    }),
    client.readContract({
      address: contract,
      abi: IReputationAbi,
      functionName: 'scores',
      args: [[...oracles], specId],
    }),
  ])
  return Promise.all(
    oracles.map(async (oracle, i) => {
      const r = records[i]!
      const [completionRateBps, accuracyRateBps, averageResponseSeconds] = await Promise.all([
        read('completionRateBps', oracle),
        read('accuracyRateBps', oracle),
        read('averageResponseSeconds', oracle),
      ])
      return {
        oracle,
        specId,
        assigned: r.assigned,
        completed: r.completed,
        accepted: r.accepted,
        missed: r.missed,
        depositsLocked: r.depositsLocked,
        penaltiesPaid: r.penaltiesPaid,
        totalResponseSeconds: r.totalResponseSeconds,
        completionRateBps,
        accuracyRateBps,
        averageResponseSeconds,
        score: scores[i]!,
      }
    }),
  )
}

/** The rows of a table of views (header first), for the CLI and the demo. */
export function reputationRows(views: readonly ReputationView[]): string[][] {
  const pct = (bps: bigint) => `${(Number(bps) / 100).toFixed(1)}%`
  return [
    [
      'oracle',
      'assigned',
      'completed',
      'accepted',
      'missed',
      'completion',
      'accuracy',
      'avg s',
      'penalties',
      'score',
    ],
    ...views.map((v) => [
      v.oracle,
      String(v.assigned),
      String(v.completed),
      String(v.accepted),
      String(v.missed),
      pct(v.completionRateBps),
      pct(v.accuracyRateBps),
      String(v.averageResponseSeconds),
      String(v.penaltiesPaid),
      String(v.score),
    ]),
  ]
}
