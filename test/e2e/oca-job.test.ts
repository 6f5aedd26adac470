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
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type Address, getAddress, parseEventLogs } from 'viem'
import { privateKeyToAddress } from 'viem/accounts'
import {
  OracleRegistryAbi,
  OracleRegistryBytecode,
  ThresholdAggregatorAbi,
} from '../../artifacts/abis.ts'
import { ANVIL_PRIVATE_KEYS } from '../../src/chain/anvil.ts'
import {
  agreedGroupKey,
  deployThresholdAggregator,
  nextContractAddress,
} from '../../src/chain/oca-deploy.ts'
import { deployContract, startTestChain, type TestChain } from '../../src/chain/testing.ts'
import { createLogger } from '../../src/common.ts'
import type { NodeConfig } from '../../src/config/config.ts'
import { publicKeyOf } from '../../src/crypto/schnorr.ts'
import { prepareLocalNode } from '../../src/node/local.ts'
import { type OracleNode, startNode } from '../../src/node/node.ts'
import type { OcaJobEvent, OcaJobStatus } from '../../src/node/offchainaggregation.ts'
import { testDatabaseUrl } from '../../src/store/testing.ts'
import { startCommitteeSource } from './commitreveal-setup.ts'
import { waitFor } from './node-setup.ts'

const N = 4
const F = 1
const FIXTURE = readFileSync(
  join(import.meta.dirname, '../fixtures/offchainaggregation-feed.toml'),
  'utf8',
)

/** Whether `answer` lies between the two middle prices (a median of at least 2f+1 of them). */
const inMiddle = (answer: bigint, prices: string[]) => {
  const sorted = prices
    .map((p) => BigInt(p.replace('.', '')) * 1_000_000n)
    .sort((a, b) => (a < b ? -1 : 1))
  return answer >= sorted[1]! && answer <= sorted[2]!
}

type TestNode = {
  index: number
  address: Address
  config: NodeConfig
  events: OcaJobEvent[]
  node?: OracleNode
  jobId?: string
}

describe(`offchainaggregation job on 4 nodes (${process.env.DATABASE_URL ? 'Postgres server' : 'PGlite'})`, () => {
  let chain: TestChain
  let registry: Address
  let aggregator: Address
  let source: Awaited<ReturnType<typeof startCommitteeSource>>
  const nodes: TestNode[] = []
  const cleanup: (() => Promise<void>)[] = []

  const start = async (t: TestNode) => {
    t.node = await startNode({
      config: t.config,
      logger: createLogger({ silent: true }),
      onOcaEvent: (e) => t.events.push(e),
      scryptN: 2 ** 12,
    })
  }
  const api = async (t: TestNode, method: string, path: string, body?: string) => {
    const res = await fetch(`${t.node!.apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${t.node!.apiToken}`, 'content-type': 'application/toml' },
      ...(body === undefined ? {} : { body }),
    })
    return {
      status: res.status,
      json: (await res.json()) as { job: { id: string; status: OcaJobStatus } },
    }
  }
  const status = async (t: TestNode): Promise<OcaJobStatus> =>
    (await api(t, 'GET', `/v2/jobs/${t.jobId}`)).json.job.status
  const specFor = (i: number) =>
    FIXTURE.replace(/^contractAddress = .*$/m, `contractAddress = "${aggregator}"`)
      .replace(/^registryAddress = .*$/m, `registryAddress = "${registry}"`)
      .replace(
        /^pollPeriod = .*$/m,
        'pollPeriod = "300ms"\nviewTimeout = "3s"\ntransmitStep = "1s"\ndkgPhaseTimeout = "5s"\nroundsPerBatch = 4',
      )
      .replace(/url="[^"]*"/, `url="${source.url}?node=${i}"`)
  const roundsOnChain = async () =>
    parseEventLogs({
      abi: ThresholdAggregatorAbi,
      logs: await chain.owner.getLogs({ address: aggregator, fromBlock: 0n }),
      eventName: 'AnswerUpdated',
    })

  before(async () => {
    chain = await startTestChain()
    cleanup.push(() => chain.stop())
    registry = await deployContract(chain.owner, {
      name: 'OracleRegistry',
      abi: OracleRegistryAbi,
      bytecode: OracleRegistryBytecode,
      args: [],
    })
    source = await startCommitteeSource(['3000.00', '3000.50', '2999.50', '3001.00'])
    cleanup.push(() => source.stop())
    for (const [index, key] of ANVIL_PRIVATE_KEYS.slice(1, 1 + N).entries()) {
      const dataDir = await mkdtemp(join(tmpdir(), `orakel-oca-job-${index}-`))
      cleanup.push(() => rm(dataDir, { recursive: true, force: true }))
      const database = await testDatabaseUrl()
      if (database) cleanup.push(() => database.drop())
      const { config } = await prepareLocalNode({
        rpcUrl: chain.anvil.rpcUrl,
        chainId: chain.anvil.chainId,
        privateKey: key,
        dataDir,
        databaseUrl: database?.url,
        pollIntervalMs: 50,
        configure: (c) => ({ ...c, log: { level: 'silent' } }),
      })
      const t: TestNode = { index, address: privateKeyToAddress(key), config, events: [] }
      nodes.push(t)
      cleanup.push(async () => {
        await t.node?.stop()
      })
    }
    await Promise.all(nodes.map(start))
    // The aggregator's address before it exists: the owner's next contract.
    aggregator = await nextContractAddress(chain.owner)
  })

  after(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => {})
  })

  it('refuses a spec whose committee is malformed, naming the field', async () => {
    const bad = specFor(0).replace(/^f = 1$/m, 'f = 2')
    const res = await api(nodes[0]!, 'POST', '/v2/jobs', bad)
    assert.equal(res.status, 422, JSON.stringify(res.json))
    assert.match(JSON.stringify(res.json), /4 oracles tolerate at most f = 1/)
  })

  it('registers, makes the group key by DKG, and serves the feed once the aggregator is deployed', async () => {
    for (const t of nodes) {
      const res = await api(t, 'POST', '/v2/jobs', specFor(t.index))
      assert.equal(res.status, 201, JSON.stringify(res.json))
      t.jobId = String(res.json.job.id)
    }
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
    // The group key, reported by the nodes' API; n − f of them must agree.
    const key = await waitFor(
      'the group key from n − f nodes',
      async () => {
        const reports = await Promise.all(
          nodes.map(async (t) => ({ node: t.node!.apiUrl, ...(await status(t)) })),
        )
        for (const r of reports) assert.notEqual(r.state, 'failed', r.error)
        return agreedGroupKey(reports, N - F)
      },
      60_000,
    )
    for (const t of nodes)
      assert.equal(
        (await status(t)).state,
        'waiting-for-aggregator',
        `node ${t.index} waits for the aggregator`,
      )
    const deployed = await deployThresholdAggregator(chain.owner, {
      groupKey: key,
      oracles: nodes.map((t) => t.address),
      f: F,
      epoch: 1,
      minAnswer: 1n,
      maxAnswer: 10n ** 30n,
      decimals: 8,
      description: 'ETH / USD (OCA job test)',
      expectedAddress: aggregator,
    })
    assert.equal(getAddress(deployed), getAddress(aggregator))

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
    assert.ok(inMiddle(first[0]!.args.current!, source.prices), `answer ${first[0]!.args.current}`)
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
    source.prices.splice(0, 4, '3060.00', '3060.50', '3059.50', '3061.00')
    const second = await waitFor(
      'a deviation round',
      async () => {
        const logs = await roundsOnChain()
        return logs.find((l) => l.args.current! >= 3059_50000000n)
      },
      60_000,
    )
    assert.ok(inMiddle(second.args.current!, source.prices), `answer ${second.args.current}`)
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
    const t = nodes[3]!
    const before = await status(t)
    await t.node!.stop()
    t.node = undefined
    await start(t)
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
    source.prices.splice(0, 4, '3120.00', '3120.50', '3119.50', '3121.00')
    const third = await waitFor(
      'a round after the restart',
      async () => {
        const logs = await roundsOnChain()
        return logs.length > signedBefore ? logs.at(-1) : undefined
      },
      60_000,
    )
    assert.ok(inMiddle(third!.args.current!, source.prices), `answer ${third!.args.current}`)
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
    const registry2 = await deployContract(chain.owner, {
      name: 'OracleRegistry',
      abi: OracleRegistryAbi,
      bytecode: OracleRegistryBytecode,
      args: [],
    })
    const aggregator2 = await nextContractAddress(chain.owner)
    const jobs2: string[] = []
    for (const t of nodes) {
      const spec = specFor(t.index)
        .replace(/^contractAddress = .*$/m, `contractAddress = "${aggregator2}"`)
        .replace(/^registryAddress = .*$/m, `registryAddress = "${registry2}"`)
        .replace(/^externalJobID = .*\n/m, '')
      const res = await api(t, 'POST', '/v2/jobs', spec)
      assert.equal(res.status, 201, JSON.stringify(res.json))
      jobs2.push(String(res.json.job.id))
    }
    const status2 = async (i: number) =>
      (await api(nodes[i]!, 'GET', `/v2/jobs/${jobs2[i]}`)).json.job.status
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
})
