/**
 * The `offchainaggregation` job type inside real nodes (issue 7): four in-process oracle nodes
 * (anvil accounts 1–4, f = 1), each on its own database, each with the job created through its
 * API. Nothing is mocked: the nodes register their libp2p identities in the OracleRegistry
 * through their transaction managers, make the group key by DKG over libp2p bound to the
 * aggregator's predicted address, the deployer reads the key from the nodes' API and deploys
 * the ThresholdAggregator with it, and the feed then updates by itself — first because it has
 * no answer, then on a deviation — with one `transmit` per round. A node restarted on another
 * port re-registers, keeps its key share, and its committee carries on.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Address, getAddress } from 'viem'
import {
  LinkTokenAbi,
  OcaRewardsAbi,
  OcaRewardsBytecode,
  OracleRegistryAbi,
  OracleRegistryBytecode,
} from '../../artifacts/abis.ts'
import {
  agreedGroupKey,
  deployThresholdAggregator,
  nextContractAddress,
} from '../../src/chain/oca-deploy.ts'
import { deployContract, deployLinkToken, send } from '../../src/chain/testing.ts'
import { createLogger } from '../../src/common.ts'
import { publicKeyOf } from '../../src/crypto/schnorr.ts'
import { createOcaProvider, settleWithViem } from '../../src/oca/provider.ts'
import { serveProvider } from '../../src/oca/provider-server.ts'
import { waitFor } from './node-setup.ts'
import { inMiddle, type OcaTestNode, type OcaWorld, startOcaWorld } from './oca-job-setup.ts'

const N = 4
const F = 1

describe(`offchainaggregation job on 4 nodes (${process.env.DATABASE_URL ? 'Postgres server' : 'PGlite'})`, () => {
  let world: OcaWorld
  let aggregator: Address
  let jobIds: string[]
  const status = (t: OcaTestNode) => world.status(t, jobIds[t.index]!)
  const specFor = (i: number) => world.specFor(i, { aggregator })
  const roundsOnChain = () => world.roundsOn(aggregator)

  before(async () => {
    world = await startOcaWorld({
      prefix: 'orakel-oca-job-',
      n: N,
      prices: ['3000.00', '3000.50', '2999.50', '3001.00'],
    })
    // The aggregator's address before it exists: the owner's next contract.
    aggregator = await nextContractAddress(world.chain.owner)
  })

  after(async () => {
    await world?.close()
  })

  it('refuses a spec whose committee is malformed, naming the field', async () => {
    const bad = specFor(0).replace(/^f = 1$/m, 'f = 2')
    const res = await world.api(world.nodes[0]!, 'POST', '/v2/jobs', bad)
    assert.equal(res.status, 422, JSON.stringify(res.json))
    assert.match(JSON.stringify(res.json), /4 oracles tolerate at most f = 1/)
  })

  it('registers, makes the group key by DKG, and serves the feed once the aggregator is deployed', async () => {
    const { nodes, chain, registry } = world
    jobIds = await world.createJobs(nodes, (t) => specFor(t.index))
    // Every node registered its peer id in the registry from its own key.
    for (const t of nodes) {
      const [peerId] = await waitFor(
        `node ${t.index} in the registry`,
        async () => {
          const entry = await chain.owner.readContract({
            address: registry,
            abi: OracleRegistryAbi,
            functionName: 'peerOf',
            args: [t.address],
          })
          return entry[0] ? entry : undefined
        },
        30_000,
      )
      assert.equal(peerId, (await status(t)).peerId)
    }
    // The group key, reported by the nodes' API (n − f of them must agree); the aggregator is
    // deployed with it at the predicted address, which the nodes wait for.
    const oracles = nodes.map((t) => t.address)
    const waiting = await waitFor(
      'every node waiting for the aggregator',
      async () => {
        const states = await Promise.all(nodes.map(async (t) => (await status(t)).state))
        assert.ok(!states.includes('failed'), states.join())
        return states.every((s) => s === 'waiting-for-aggregator') ? states : undefined
      },
      60_000,
    )
    assert.equal(waiting.length, N)
    await world.deployWhenKeyed(nodes, jobIds, { aggregator, oracles, f: F })
    assert.notEqual(await chain.owner.getCode({ address: aggregator }), undefined)

    // Round 1: the feed has no answer yet. The answer is the median of the observations the
    // round's leader proposed (at least 2f+1 of the four), so one of the prices in the middle.
    const first = await waitFor(
      'the first round on chain',
      async () => {
        const logs = await roundsOnChain()
        return logs.length > 0 ? logs : undefined
      },
      60_000,
    )
    assert.ok(
      inMiddle(first[0]!.args.current!, world.source.prices),
      `answer ${first[0]!.args.current}`,
    )
    const round1 = Number(first[0]!.args.roundId)
    const transmits1 = first.filter((l) => Number(l.args.roundId) === round1)
    assert.equal(transmits1.length, 1, 'one transmit per round')
    const receipt = await chain.owner.getTransactionReceipt({ hash: first[0]!.transactionHash })
    assert.ok(
      nodes.some((t) => getAddress(t.address) === getAddress(receipt.from)),
      'sent by a committee member',
    )
    assert.ok(receipt.gasUsed < 60_000n, `transmit used ${receipt.gasUsed} gas`)
    for (const t of nodes) assert.equal((await status(t)).state, 'running')

    // A 2 % move: a deviation round.
    world.source.prices.splice(0, 4, '3060.00', '3060.50', '3059.50', '3061.00')
    const second = await waitFor(
      'a deviation round',
      async () => {
        const logs = await roundsOnChain()
        return logs.find((l) => l.args.current! >= 3059_50000000n)
      },
      60_000,
    )
    assert.ok(inMiddle(second.args.current!, world.source.prices), `answer ${second.args.current}`)
    assert.ok(second.args.roundId! > BigInt(round1))
    const all = await roundsOnChain()
    const ids = all.map((l) => l.args.roundId)
    assert.equal(new Set(ids).size, ids.length, 'no round transmitted twice')
    // Every node ends the round with the signature (after its transmission turn).
    for (const t of nodes)
      await waitFor(`node ${t.index} signing the deviation round`, () =>
        t.events.find((e) => e.kind === 'round-signed' && e.round === Number(second.args.roundId)),
      )
  })

  it('a restarted node re-registers on its new port, keeps its key share, and rounds go on', async () => {
    const t = world.nodes[3]!
    const before = await status(t)
    await t.node!.stop()
    t.node = undefined
    await world.start(t)
    const after = await waitFor(
      'the restarted node running again',
      async () => {
        const s = await status(t)
        assert.notEqual(s.state, 'failed', s.error)
        return s.state === 'running' ? s : undefined
      },
      60_000,
    )
    assert.equal(after.groupKey, before.groupKey, 'the key share was kept, no new DKG')
    assert.equal(after.peerId, before.peerId, 'the libp2p key was kept')
    // Another move: the committee, the restarted node with it, signs and transmits again.
    const signedBefore = (await roundsOnChain()).length
    world.source.prices.splice(0, 4, '3120.00', '3120.50', '3119.50', '3121.00')
    const third = await waitFor(
      'a round after the restart',
      async () => {
        const logs = await roundsOnChain()
        return logs.length > signedBefore ? logs.at(-1) : undefined
      },
      60_000,
    )
    assert.ok(inMiddle(third!.args.current!, world.source.prices), `answer ${third!.args.current}`)
    // It listens on a new port, so it registered again; and it signs with the others again.
    assert.notDeepEqual(after.addrs, before.addrs)
    assert.ok(
      t.events.some((e) => e.kind === 'registered' && e.addrs.join() === after.addrs.join()),
    )
    await waitFor('the restarted node signing a round', () =>
      t.events.find((e) => e.kind === 'round-signed' && e.round === Number(third!.args.roundId)),
    )
  })

  it('refuses to serve an aggregator deployed with another group key, saying so', async () => {
    // A second feed on the same nodes: its own registry (one entry per oracle there) and
    // aggregator; each job's committee host binds a port of its own.
    const { nodes, chain } = world
    const registry2 = await deployContract(chain.owner, {
      name: 'OracleRegistry',
      abi: OracleRegistryAbi,
      bytecode: OracleRegistryBytecode,
      args: [],
    })
    const aggregator2 = await nextContractAddress(chain.owner)
    const jobs2 = await world.createJobs(nodes, (t) =>
      world
        .specFor(t.index, { aggregator: aggregator2, registry: registry2 })
        .replace(/^externalJobID = .*\n/m, ''),
    )
    const status2 = async (i: number) => world.status(nodes[i]!, jobs2[i]!)
    const key = await waitFor(
      'the second group key',
      async () =>
        agreedGroupKey(
          await Promise.all(
            nodes.map((_, i) => status2(i)).map(async (s) => ({ node: '', ...(await s) })),
          ),
          N - F,
        ),
      60_000,
    )
    // Deployed with a key nobody in the committee holds a share of.
    const wrong = publicKeyOf(7n)
    assert.notEqual(wrong.x, key.x)
    await deployThresholdAggregator(chain.owner, {
      groupKey: wrong,
      oracles: nodes.map((t) => t.address),
      f: F,
      epoch: 1,
      minAnswer: 1n,
      maxAnswer: 10n ** 30n,
      decimals: 8,
      description: 'a key the committee does not hold',
      expectedAddress: aggregator2,
    })
    for (const [i] of nodes.entries()) {
      const s = await waitFor(`job ${i} failing`, async () => {
        const s = await status2(i)
        return s.state === 'failed' ? s : undefined
      })
      assert.match(s.error ?? '', /was deployed with another group key than the committee's/)
    }
    const logs = await chain.owner.getLogs({ address: aggregator2, fromBlock: 0n })
    assert.equal(logs.length, 0, 'nothing was transmitted to it')
  })

  it('members hand the provider their round messages; it rewards them on chain (Algorithm 3)', async () => {
    const { nodes, chain } = world
    // OcaRewards funded by the provider (the owner here), and the provider's endpoint, which
    // takes messages once the committee's public keys are known.
    const link = await deployLinkToken(chain.owner)
    const oracles = nodes.map((t) => t.address)
    const PAY = 10n ** 16n
    const rewards = await deployContract(chain.owner, {
      name: 'OcaRewards',
      abi: OcaRewardsAbi,
      bytecode: OcaRewardsBytecode,
      args: [link, chain.owner.account.address, oracles, PAY],
    })
    await send(chain.owner, {
      address: link,
      abi: LinkTokenAbi,
      functionName: 'transferAndCall',
      args: [rewards, 10n ** 18n, '0x'],
    })
    const server = await serveProvider({ logger: createLogger({ silent: true }) })
    try {
      const registry3 = await deployContract(chain.owner, {
        name: 'OracleRegistry',
        abi: OracleRegistryAbi,
        bytecode: OracleRegistryBytecode,
        args: [],
      })
      const aggregator3 = await nextContractAddress(chain.owner)
      const jobs3 = await world.createJobs(nodes, (t) =>
        world
          .specFor(t.index, {
            aggregator: aggregator3,
            registry: registry3,
            extra: `providerURL = "${server.url}"`,
          })
          .replace(/^externalJobID = .*\n/m, ''),
      )
      const keyed = await waitFor(
        'the third committee keyed',
        async () => {
          const s = await world.status(nodes[0]!, jobs3[0]!)
          return s.groupKey && s.shareKeys.length === N ? s : undefined
        },
        60_000,
      )
      const decided = new Map<number, number[]>()
      const provider = createOcaProvider(
        {
          send: settleWithViem(chain.owner, rewards),
          logger: createLogger({ silent: true }),
          onRound: (r) => decided.set(r.round, r.rewarded),
        },
        {
          configDigest: keyed.configDigest,
          oracles,
          f: F,
          groupKey: keyed.groupKey!,
          shareKeys: keyed.shareKeys,
          settleEvery: 1,
          closeAfterMs: 15_000,
        },
      )
      server.setProvider(provider)
      await world.deployWhenKeyed(nodes, jobs3, { aggregator: aggregator3, oracles, f: F })
      await waitFor(
        'a round on the third aggregator',
        async () => (await world.roundsOn(aggregator3))[0],
        60_000,
      )
      // Round 1 is closed and settled on chain.
      await waitFor(
        'round 1 settled on OcaRewards',
        async () =>
          (await chain.owner.readContract({
            address: rewards,
            abi: OcaRewardsAbi,
            functionName: 'lastSettledRound',
          })) >= 1
            ? true
            : undefined,
        60_000,
      )
      const owed = await Promise.all(
        oracles.map((o) =>
          chain.owner.readContract({
            address: rewards,
            abi: OcaRewardsAbi,
            functionName: 'owed',
            args: [o],
          }),
        ),
      )
      // Exactly the members Algorithm 3 rewarded for round 1 are owed one payment (a member
      // whose observation is not in the report, or whose commitment came too late to be in
      // enough commitment sets, is not); at least f+1 qualify.
      const rewarded = decided.get(1) ?? []
      assert.deepEqual(
        owed,
        oracles.map((_, i) => (rewarded.includes(i + 1) ? PAY : 0n)),
        `rewarded ${rewarded}`,
      )
      assert.ok(rewarded.length >= F + 1, `rewarded ${rewarded}`)
      await provider.stop()
    } finally {
      await server.close()
    }
  })
})
