/**
 * A committee change through the offchainaggregation job (issue 7, resharing): five real nodes.
 * Nodes 1–4 serve aggregator A1; then the committee becomes nodes 2–5 (node 1 leaves, node 5
 * joins). Every node of old ∪ new gets a job naming the new committee and the previous
 * configuration: the old members deal their key shares to the new ones over libp2p, the new
 * members agree on the result, and the new aggregator A2 is deployed with the group key they
 * report — which is A1's: the key stayed, no new DKG. The new committee, the newcomer included,
 * then signs A2's rounds; the leaving node ends in state `left`.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Address } from 'viem'
import {
  OracleRegistryAbi,
  OracleRegistryBytecode,
  ThresholdAggregatorAbi,
} from '../../artifacts/abis.ts'
import { nextContractAddress } from '../../src/chain/oca-deploy.ts'
import { deployContract } from '../../src/chain/testing.ts'
import { waitFor } from './node-setup.ts'
import { inMiddle, type OcaWorld, startOcaWorld } from './oca-job-setup.ts'

describe(`offchainaggregation committee change by resharing (${process.env.DATABASE_URL ? 'Postgres server' : 'PGlite'})`, () => {
  let world: OcaWorld
  before(async () => {
    world = await startOcaWorld({
      prefix: 'orakel-oca-reshare-',
      n: 5,
      prices: ['3000.00', '3000.50', '2999.50', '3001.00', '3000.25'],
    })
  })
  after(async () => {
    await world?.close()
  })

  it('keeps the group key from nodes 1–4 to nodes 2–5; the new committee signs', async () => {
    const { nodes, chain } = world
    const oldMembers = nodes.slice(0, 4)
    const newMembers = nodes.slice(1, 5)
    const oldOracles = oldMembers.map((t) => t.address)
    const newOracles = newMembers.map((t) => t.address)

    // The old committee and its aggregator.
    const a1 = await nextContractAddress(chain.owner)
    const oldJobs = await world.createJobs(oldMembers, (t) =>
      world.specFor(t.index, { aggregator: a1, oracles: oldOracles }),
    )
    await world.deployWhenKeyed(oldMembers, oldJobs, { aggregator: a1, oracles: oldOracles, f: 1 })
    await waitFor(
      'a round on A1',
      async () => ((await world.roundsOn(a1)).length > 0 ? true : undefined),
      60_000,
    )

    // The change: a job on every node of old ∪ new, naming the previous configuration. (The new
    // configuration gets its own registry: each job's host listens on a port of its own.)
    const registry2 = await deployContract(chain.owner, {
      name: 'OracleRegistry',
      abi: OracleRegistryAbi,
      bytecode: OracleRegistryBytecode,
      args: [],
    })
    const a2 = await nextContractAddress(chain.owner)
    const previous = [
      `previousContractAddress = "${a1}"`,
      `previousOracles = [${oldOracles.map((o) => `"${o}"`).join(', ')}]`,
      'previousF = 1',
      'previousConfigVersion = 1',
    ].join('\n')
    const newJobs = await world.createJobs(nodes, (t) =>
      world
        .specFor(t.index, {
          aggregator: a2,
          registry: registry2,
          oracles: newOracles,
          extra: previous,
        })
        .replace(/^externalJobID = .*\n/m, ''),
    )
    const leaving = nodes[0]!
    await waitFor(
      'the leaving node done',
      async () => ((await world.status(leaving, newJobs[0]!)).state === 'left' ? true : undefined),
      60_000,
    )
    assert.ok(leaving.events.some((e) => e.kind === 'left'))
    const key = await world.deployWhenKeyed(newMembers, newJobs.slice(1), {
      aggregator: a2,
      oracles: newOracles as Address[],
      f: 1,
    })
    const [x1, parity1] = await chain.owner.readContract({
      address: a1,
      abi: ThresholdAggregatorAbi,
      functionName: 'groupKey',
    })
    assert.equal(key.x, x1, 'the group key stayed')
    assert.equal(key.parity, parity1)
    for (const t of newMembers)
      assert.ok(
        t.events.some((e) => e.kind === 'group-key' && e.reshared),
        `node ${t.index} got its share by resharing`,
      )

    // A2's first round, signed by the new committee; the newcomer takes part.
    const first = await waitFor(
      'a round on A2',
      async () => (await world.roundsOn(a2))[0],
      120_000,
    ).catch(async (err: unknown) => {
      // What each new member's job says, to tell a stalled DKG from a stalled round.
      const states = await Promise.all(
        newMembers.map(async (t, i) => JSON.stringify(await world.status(t, newJobs[i + 1]!))),
      )
      throw new Error(`${(err as Error).message}\n${states.join('\n')}`)
    })
    const prices = world.source.prices.slice(1, 5)
    assert.ok(inMiddle(first.args.current!, prices), `answer ${first.args.current}`)
    const newcomer = nodes[4]!
    await waitFor('the newcomer signing A2’s round', () =>
      newcomer.events.find(
        (e) => e.kind === 'round-signed' && e.round === Number(first.args.roundId),
      ),
    )
  })
})
