/**
 * The committee as registered on chain: for each oracle its address, its libp2p peer id and the
 * addresses it listens on. `parseCommittee` checks it once and indexes it both ways, so the host
 * can admit a connection by peer id and attribute a message to an oracle address.
 */
import type { KeyObject } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { CODE_P2P, type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { type Address, getAddress, isAddress } from 'viem'
import { P2pError } from './errors.ts'
import { publicKeyOfPeerId, verifyingKeyObject } from './keys.ts'

/** One committee member, as registered on chain. */
export type CommitteeMember = {
  /** The member's on-chain oracle address. */
  oracle: Address
  /** Its libp2p peer id (an Ed25519 peer id, `12D3KooW…`). */
  peerId: string
  /** Multiaddrs to dial it at (`/ip4/…/tcp/…`, optionally ending in its own `/p2p/<peerId>`). */
  addrs: string[]
}

export type ResolvedMember = {
  oracle: Address
  peerId: string
  peer: PeerId
  /** Dialable addresses, each ending in `/p2p/<peerId>` so the dial checks who answers. */
  addrs: Multiaddr[]
  /** The key its messages must be signed with. */
  verifyingKey: KeyObject
}

export type Committee = {
  members: ResolvedMember[]
  /** Keyed by lower-case address. */
  byOracle: Map<string, ResolvedMember>
  byPeerId: Map<string, ResolvedMember>
  self: ResolvedMember
}

export function oracleKey(address: string): string {
  return address.toLowerCase()
}

/**
 * Validates a committee and finds the local member. Throws `P2pError` naming the member at
 * fault: an invalid address or peer id, a non-Ed25519 peer id, a duplicate oracle or peer id, an
 * address that names another peer, or a local oracle that is missing or has another peer id.
 */
export function parseCommittee(
  members: readonly CommitteeMember[],
  local: { oracle: Address; peerId: string },
): Committee {
  const byOracle = new Map<string, ResolvedMember>()
  const byPeerId = new Map<string, ResolvedMember>()
  const resolved: ResolvedMember[] = []
  for (const [i, member] of members.entries()) {
    const where = `committee[${i}]`
    if (!isAddress(member.oracle, { strict: false }))
      throw new P2pError(`${where}: oracle is not an address`, { details: String(member.oracle) })
    const oracle = getAddress(member.oracle)
    const verifyingKey = verifyingKeyObject(publicKeyOfPeerId(member.peerId))
    // The canonical (base58btc) form, which is what a connection reports.
    const peer = peerIdFromString(member.peerId)
    const peerId = peer.toString()
    const addrs = (member.addrs ?? []).map((text) => dialAddress(where, text, peerId))
    if (byOracle.has(oracleKey(oracle)))
      throw new P2pError(`${where}: oracle ${oracle} is listed twice`)
    if (byPeerId.has(peerId)) throw new P2pError(`${where}: peer id ${peerId} is listed twice`)
    const entry: ResolvedMember = {
      oracle,
      peerId,
      peer,
      addrs,
      verifyingKey,
    }
    byOracle.set(oracleKey(oracle), entry)
    byPeerId.set(peerId, entry)
    resolved.push(entry)
  }
  const self = byOracle.get(oracleKey(local.oracle))
  if (!self) throw new P2pError(`The local oracle ${local.oracle} is not in the committee`)
  if (self.peerId !== local.peerId)
    throw new P2pError('The committee registers another peer id for the local oracle', {
      details: `registered ${self.peerId}, this node's key is ${local.peerId}`,
    })
  return { members: resolved, byOracle, byPeerId, self }
}

function dialAddress(where: string, text: string, peerId: string): Multiaddr {
  let addr: Multiaddr
  try {
    addr = multiaddr(text)
  } catch (err) {
    throw new P2pError(`${where}: not a multiaddr`, { details: text, cause: err })
  }
  const named = addr.getComponents().filter((c) => c.code === CODE_P2P)
  if (named.length === 0) return addr.encapsulate(`/p2p/${peerId}`)
  if (named.some((c) => c.value !== peerId))
    throw new P2pError(`${where}: address names another peer`, { details: text })
  return addr
}
