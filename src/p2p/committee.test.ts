import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { privateKeyToAddress } from 'viem/accounts'
import { type CommitteeMember, parseCommittee } from './committee.ts'
import { P2pError } from './errors.ts'
import { p2pKeyFromSeed, peerIdOf } from './keys.ts'

const keys = await Promise.all([1, 2, 3].map((i) => p2pKeyFromSeed(new Uint8Array(32).fill(i))))
const ids = keys.map(peerIdOf)
const oracles = [1, 2, 3].map((i) => privateKeyToAddress(`0x${String(i).repeat(64)}`))
const members: CommitteeMember[] = [0, 1, 2].map((i) => ({
  oracle: oracles[i]!,
  peerId: ids[i]!,
  addrs: [`/ip4/127.0.0.1/tcp/${4000 + i}`],
}))

describe('parseCommittee', () => {
  test('indexes members both ways and finds itself', () => {
    const c = parseCommittee(members, {
      oracle: oracles[1]!.toLowerCase() as `0x${string}`,
      peerId: ids[1]!,
    })
    assert.equal(c.members.length, 3)
    assert.equal(c.self.oracle, oracles[1])
    assert.equal(c.byPeerId.get(ids[2]!)?.oracle, oracles[2])
    assert.equal(c.byOracle.get(oracles[0]!.toLowerCase())?.peerId, ids[0])
    assert.equal(c.members[0]!.addrs[0]!.toString(), `/ip4/127.0.0.1/tcp/4000/p2p/${ids[0]}`)
  })

  test('keeps an address that already names the right peer', () => {
    const withP2p = members.map((m, i) =>
      i === 0 ? { ...m, addrs: [`/ip4/127.0.0.1/tcp/4000/p2p/${ids[0]}`] } : m,
    )
    const c = parseCommittee(withP2p, { oracle: oracles[0]!, peerId: ids[0]! })
    assert.equal(c.self.addrs[0]!.toString(), `/ip4/127.0.0.1/tcp/4000/p2p/${ids[0]}`)
  })

  test('refuses bad committees, naming the member', () => {
    const local = { oracle: oracles[0]!, peerId: ids[0]! }
    const bad: [CommitteeMember[], RegExp][] = [
      [[{ ...members[0]!, oracle: '0x1234' }, ...members.slice(1)], /committee\[0\]: oracle/],
      [[...members.slice(0, 2), { ...members[2]!, peerId: 'nope' }], /peer id/],
      [[...members, { ...members[2]!, oracle: oracles[0]! }], /listed twice/],
      [
        [...members, { ...members[2]!, oracle: privateKeyToAddress(`0x${'9'.repeat(64)}`) }],
        /listed twice/,
      ],
      [
        [...members.slice(0, 2), { ...members[2]!, addrs: ['garbage'] }],
        /committee\[2\]: not a multiaddr/,
      ],
      [
        [...members.slice(0, 2), { ...members[2]!, addrs: [`/ip4/127.0.0.1/tcp/1/p2p/${ids[0]}`] }],
        /another peer/,
      ],
      [members.slice(1), /not in the committee/],
    ]
    for (const [committee, message] of bad)
      assert.throws(
        () => parseCommittee(committee, local),
        (err: unknown) => {
          assert.ok(err instanceof P2pError)
          assert.match(err.shortMessage, message)
          return true
        },
      )
    assert.throws(
      () => parseCommittee(members, { oracle: oracles[0]!, peerId: ids[1]! }),
      /another peer id for the local oracle/,
    )
  })
})
