import type { Address, PublicClient } from 'viem'
import { IOracleRegistryAbi } from '../../artifacts/abis.ts'
import type { CommitteeMember } from './committee.ts'
import { P2pError } from './errors.ts'

/**
 * The committee's libp2p identities as registered on chain (contracts/registry/OracleRegistry):
 * each oracle's own entry, in the committee's order. An oracle that never registered is an
 * error naming it: its peers could not admit it.
 */
export async function committeeFromRegistry(
  client: Pick<PublicClient, 'readContract'>,
  registry: Address,
  oracles: readonly Address[],
): Promise<CommitteeMember[]> {
  const members: CommitteeMember[] = []
  for (const oracle of oracles) {
    const [peerId, addrs] = await client.readContract({
      address: registry,
      abi: IOracleRegistryAbi,
      functionName: 'peerOf',
      args: [oracle],
    })
    if (!peerId) {
      throw new P2pError(`oracle ${oracle} has no libp2p identity in the registry ${registry}`, {
        details:
          'the oracle registers with OracleRegistry.register(peerId, addrs) from its own key',
      })
    }
    members.push({ oracle, peerId, addrs: [...addrs] })
  }
  return members
}
