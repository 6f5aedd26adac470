import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Address, encodeFunctionData } from 'viem'
import { OracleRegistryAbi, OracleRegistryBytecode } from '../../artifacts/abis.ts'
import { fundedSigners, type Signer } from '../chain/commit-reveal-testing.ts'
import { deployContract, startTestChain, type TestChain } from '../chain/testing.ts'
import { parseCommittee } from './committee.ts'
import { P2pError } from './errors.ts'
import { generateP2pKey, peerIdOf } from './keys.ts'
import { committeeFromRegistry } from './registry.ts'

describe('committee from the on-chain registry', () => {
  let chain: TestChain
  let registry: Address
  let oracles: Signer[]
  before(async () => {
    chain = await startTestChain()
    registry = await deployContract(chain.owner, {
      name: 'OracleRegistry',
      abi: OracleRegistryAbi,
      bytecode: OracleRegistryBytecode,
      args: [],
    })
    oracles = await fundedSigners(chain, 4)
  })
  after(async () => {
    await chain?.stop()
  })

  const register = (o: Signer, peerId: string, addrs: string[], gas?: bigint) =>
    o.send(
      registry,
      encodeFunctionData({
        abi: OracleRegistryAbi,
        functionName: 'register',
        args: [peerId, addrs],
      }),
      gas,
    )

  it('each oracle registers its own peer id; the node reads the committee in order and admits it', async () => {
    const peers: string[] = []
    for (const [i, o] of oracles.entries()) {
      const peerId = peerIdOf(await generateP2pKey())
      peers.push(peerId)
      const receipt = await register(o, peerId, [`/ip4/127.0.0.1/tcp/${4001 + i}`])
      assert.equal(receipt.status, 'success')
    }
    const addresses = oracles.map((o) => o.address)
    const members = await committeeFromRegistry(chain.owner, registry, addresses)
    assert.deepEqual(
      members.map((m) => m.peerId),
      peers,
    )
    const committee = parseCommittee(members, { oracle: addresses[2]!, peerId: peers[2]! })
    assert.equal(committee.self.oracle, addresses[2])
    // Re-registering replaces the entry (a node that rotated its key).
    const rotated = peerIdOf(await generateP2pKey())
    await register(oracles[1]!, rotated, [])
    const [, second] = await committeeFromRegistry(chain.owner, registry, addresses)
    assert.deepEqual(second, { oracle: addresses[1], peerId: rotated, addrs: [] })
  })

  it('refuses a committee with an unregistered oracle, naming it; refuses bad entries', async () => {
    const stranger = chain.stranger.account.address
    await assert.rejects(
      committeeFromRegistry(chain.owner, registry, [oracles[0]!.address, stranger]),
      (err: unknown) => err instanceof P2pError && err.message.includes(stranger),
    )
    const o = oracles[0]!
    assert.equal((await register(o, '', [], 200_000n)).status, 'reverted')
    assert.equal((await register(o, 'x'.repeat(129), [], 200_000n)).status, 'reverted')
    assert.equal(
      (await register(o, 'peer', Array(9).fill('/ip4/127.0.0.1/tcp/1'), 500_000n)).status,
      'reverted',
    )
  })
})
