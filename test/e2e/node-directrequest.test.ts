import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Address } from 'viem'
import { PriceConsumerAbi, PriceConsumerBytecode } from '../../artifacts/abis.ts'
import { type SimulatedSource, startSimulatedSource } from '../../src/adapters/sources/simulated.ts'
import type { CoreDeployment } from '../../src/chain/deploy.ts'
import {
  deployContract,
  deployTestCore,
  fundLink,
  LINK,
  send,
  startTestChain,
  type TestChain,
} from '../../src/chain/testing.ts'
import { createLogger } from '../../src/common.ts'
import type { NodeConfig } from '../../src/config/config.ts'
import type { DirectRequestEvent } from '../../src/node/directrequest.ts'
import { specIdOf } from '../../src/node/directrequest.ts'
import { type OracleNode, startNode } from '../../src/node/node.ts'
import { multiply, parseDecimal, truncate } from '../../src/pipeline/decimal.ts'
import { testDatabaseUrl } from '../../src/store/testing.ts'
import { importNodeKey, nodeTestConfig } from './node-setup.ts'

/**
 * The node end to end on anvil with a real database (PGlite, or the Postgres server named by
 * DATABASE_URL): a consumer's request → the node's run → fulfillOracleRequest2 through the
 * transaction manager → the consumer holds the answer. Requests outside a job's allow-list or
 * below its minimum payment start no run.
 */
const FIXTURE = readFileSync(join(import.meta.dirname, '../fixtures/get-uint256.toml'), 'utf8')

/** The fixture for `operator`, with `extra` (`key = value`) replacing or adding a line. */
function jobToml(operator: Address, externalJobID: string, extra = ''): string {
  let toml = FIXTURE.replace(
    /externalJobID = ".*"/,
    `externalJobID = "${externalJobID}"`,
  ).replaceAll('0x613a38AC1659769640aaE063C651F48E0250454C', operator)
  if (extra) {
    const key = extra.split('=')[0]!.trim()
    const line = new RegExp(`^${key} = .*$`, 'm')
    toml = line.test(toml)
      ? toml.replace(line, extra)
      : toml.replace(/^(externalJobID = .*)$/m, `$1\n${extra}`)
  }
  return toml
}

describe(`oracle node, direct requests (${process.env.DATABASE_URL ? 'Postgres' : 'PGlite'})`, () => {
  let chain: TestChain
  let source: SimulatedSource
  let core: CoreDeployment
  let consumer: Address
  let dataDir: string
  let database: Awaited<ReturnType<typeof testDatabaseUrl>>
  let config: NodeConfig
  let node: OracleNode | undefined
  const events: DirectRequestEvent[] = []

  const api = async (method: string, path: string, body?: string) => {
    const res = await fetch(`${node!.apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${node!.apiToken}`, 'content-type': 'application/toml' },
      body,
    })
    return { status: res.status, json: (await res.json()) as Record<string, unknown> }
  }
  const start = async () => {
    node = await startNode({
      config,
      logger: createLogger({ silent: true }),
      onEvent: (e) => events.push(e),
    })
  }
  const waitFor = async <T>(
    what: string,
    fn: () => Promise<T | undefined> | T | undefined,
    ms = 20_000,
  ) => {
    const deadline = Date.now() + ms
    for (;;) {
      const v = await fn()
      if (v !== undefined) return v
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  const request = async (externalJobID: string, payment: bigint) => {
    await send(chain.owner, {
      address: consumer,
      abi: PriceConsumerAbi,
      functionName: 'requestValue',
      args: [specIdOf(externalJobID), payment, source.priceUrl('ETH-USD'), 'price', 100n, true],
    })
  }
  const runsOf = async (jobId: string) =>
    Number((await api('GET', `/v2/jobs/${jobId}/runs`)).json.total)

  before(async () => {
    chain = await startTestChain()
    source = await startSimulatedSource({ pairs: { 'ETH-USD': 3000 }, seed: 11 })
    core = await deployTestCore(chain)
    consumer = await deployContract(chain.owner, {
      name: 'PriceConsumer',
      abi: PriceConsumerAbi,
      bytecode: PriceConsumerBytecode,
      args: [core.linkToken, core.operator],
    })
    await fundLink(chain, core.linkToken, consumer, 10n * LINK)
    dataDir = await mkdtemp(join(tmpdir(), 'orakel-node-'))
    database = await testDatabaseUrl()
    config = nodeTestConfig({ dataDir, rpcUrl: chain.anvil.rpcUrl, databaseUrl: database?.url })
    await importNodeKey(config)
    await start()
  })
  after(async () => {
    await node?.stop()
    await chain?.stop()
    await source?.stop()
    await database?.drop()
    await rm(dataDir, { recursive: true, force: true })
  })

  it('answers a consumer request on chain, once, also across a restart', async () => {
    const externalJobID = randomUUID()
    const created = await api('POST', '/v2/jobs', jobToml(core.operator, externalJobID))
    assert.equal(created.status, 201, JSON.stringify(created.json))
    const jobId = String((created.json.job as { id: string }).id)

    await request(externalJobID, LINK / 10n)
    const answer = await waitFor('the answer on chain', async () => {
      const v = await chain.owner.readContract({
        address: consumer,
        abi: PriceConsumerAbi,
        functionName: 'latestAnswer',
      })
      return v === 0n ? undefined : v
    })
    const price = source.served.at(-1)!.price
    assert.equal(answer, truncate(multiply(parseDecimal(price), parseDecimal(100))))
    assert.equal(await runsOf(jobId), 1)
    assert.ok(events.some((e) => e.kind === 'tx-enqueued'))

    // A restart re-reads recent blocks; the request is not run again.
    await node!.stop()
    await start()
    await new Promise((r) => setTimeout(r, 500))
    assert.equal(await runsOf(jobId), 1)
  })

  it('starts no run for a requester outside the allow-list or a payment below the minimum', async () => {
    const allowList = randomUUID()
    const minimum = randomUUID()
    const a = await api(
      'POST',
      '/v2/jobs',
      jobToml(
        core.operator,
        allowList,
        'requesters = ["0x0000000000000000000000000000000000000001"]',
      ),
    )
    const b = await api(
      'POST',
      '/v2/jobs',
      jobToml(core.operator, minimum, `minContractPaymentLinkJuels = "${LINK}"`),
    )
    assert.equal(a.status, 201, JSON.stringify(a.json))
    assert.equal(b.status, 201, JSON.stringify(b.json))
    await request(allowList, LINK / 10n)
    await request(minimum, LINK / 10n)
    const rejected = await waitFor('two rejections', () => {
      const r = events.filter((e) => e.kind === 'rejected')
      return r.length >= 2 ? r : undefined
    })
    const reasons = rejected.map((e) => (e as { reason: string }).reason).join('\n')
    assert.match(reasons, /is not on the job's requesters list/)
    assert.match(reasons, /below the job's minimum/)
    assert.equal(await runsOf(String((a.json.job as { id: string }).id)), 0)
    assert.equal(await runsOf(String((b.json.job as { id: string }).id)), 0)
  })
})
