import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type Address, formatUnits, parseEventLogs } from 'viem'
import { LinkTokenAbi, PriceConsumerAbi, PriceConsumerBytecode } from '../../artifacts/abis.ts'
import { createPriceAdapter, PriceConfigSchema } from '../adapters/price.ts'
import { serveAdapter } from '../adapters/server.ts'
import {
  describeFault,
  parseFault,
  startSimulatedExchanges,
} from '../adapters/sources/simulated.ts'
import { ANVIL_PRIVATE_KEYS, startAnvil } from '../chain/anvil.ts'
import { createChainClient } from '../chain/client.ts'
import { deployContract, deployCore } from '../chain/deploy.ts'
import { oracleRequestsIn } from '../chain/operator-events.ts'
import { priceConfig } from '../cli/sources.ts'
import { createLogger } from '../common.ts'
import type { BidderEvent } from '../node/bidder.ts'
import type { CommitRevealEvent } from '../node/commitreveal.ts'
import { type DirectRequestEvent, specIdOf } from '../node/directrequest.ts'
import { startLocalNode } from '../node/local.ts'
import type { OcaJobEvent } from '../node/offchainaggregation.ts'
import { createHttpClient } from '../pipeline/http-client.ts'
import { parseJson } from '../pipeline/json.ts'
import { type CommitteeDemoResult, runCommitteeDemo } from './committee.ts'
import { type MarketDemoResult, runMarketDemo } from './market.ts'
import { runOcaDemo } from './oca.ts'

export type DemoResult = {
  market: MarketDemoResult
  oca: { round: number; answer: bigint; gasUsed: bigint }[]
  committee: CommitteeDemoResult
  answer: bigint
  observed: string
  requestId: string
  consumer: Address
  operator: Address
}

const PAIR = 'ETH-USD'
const TIMES = 100n
const PAYMENT = 10n ** 17n
const SPEC = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'get-uint256.toml')
const TEMPLATE_OPERATOR = '0x613a38AC1659769640aaE063C651F48E0250454C'
const BRIDGE_FETCH = String.raw`fetch        [type="bridge" name="price" requestData="{\\"data\\": {\\"pair\\": \\"ETH-USD\\"}}"]`

/** What the price adapter answered in the job's run: the median and the sources it used. */
async function adapterAnswer(
  apiUrl: string,
  token: string,
  externalJobID: string,
): Promise<{ result: string; used: string }> {
  const get = async (path: string) => {
    const res = await fetch(`${apiUrl}${path}`, { headers: { authorization: `Bearer ${token}` } })
    return parseJson(await res.text()) as Record<string, unknown>
  }
  const [run] = (await get(`/v2/jobs/${externalJobID}/runs?limit=1`)).runs as { runId: string }[]
  const { tasks } = (await get(`/v2/runs/${run!.runId}`)).run as {
    tasks: { taskId: string; value: unknown }[]
  }
  const reply = parseJson(String(tasks.find((t) => t.taskId === 'fetch')?.value)) as {
    data: { result: unknown; sources?: { name: string; status: string }[] }
  }
  const sources = reply.data.sources ?? []
  const used = sources.filter((s) => s.status === 'used').map((s) => s.name)
  return {
    result: String(reply.data.result),
    used: `${used.length} of ${sources.length} sources (${used.join(', ')})`,
  }
}

/**
 * The main job (`npm start`): a local chain (anvil) with LinkToken, an Operator and the example
 * consumer; five SIMULATED exchanges (`orakel sources`, one of them down) and the `price`
 * external adapter over them; one Orakel node (PGlite in a temporary folder) with the adapter
 * registered as a bridge and the published get-uint256 job, its fetch done through the bridge,
 * both created through the node's API. The consumer asks for ETH-USD; the node asks the adapter,
 * which takes the median of the live independent exchanges, and answers on chain. Each step is
 * printed as it happens.
 */
export async function runDemo(print: (line: string) => void = console.log): Promise<DemoResult> {
  const line = (label: string, text: string) => print(`${label.padEnd(15)} ${text}`)
  const cleanup: (() => Promise<unknown>)[] = []
  try {
    const exchanges = await startSimulatedExchanges({
      pairs: { [PAIR]: 3000 },
      seed: Date.now() % 2 ** 31,
      count: 5,
      faults: { 5: parseFault('down') },
    })
    cleanup.push(() => exchanges.stop())
    const adapterHttp = createHttpClient()
    cleanup.push(async () => adapterHttp.close())
    const adapter = await serveAdapter(
      createPriceAdapter({
        config: PriceConfigSchema.parse(priceConfig(exchanges)),
        http: adapterHttp,
      }),
    )
    cleanup.push(() => adapter.close())
    const anvil = await startAnvil()
    cleanup.push(() => anvil.stop())
    line('local chain', `${anvil.rpcUrl} (anvil, chain id ${anvil.chainId})`)
    for (const e of exchanges.exchanges) {
      line('price source', `${e.url} ${e.name} (SIMULATED exchange, ${describeFault(e.fault)})`)
    }
    line('adapter', `${adapter.url} price: median of the live independent sources`)

    const [ownerKey, nodeKey] = ANVIL_PRIVATE_KEYS
    const owner = await createChainClient({ rpcUrl: anvil.rpcUrl, privateKey: ownerKey })
    const nodeAddress = (await createChainClient({ rpcUrl: anvil.rpcUrl, privateKey: nodeKey }))
      .account.address
    const core = await deployCore(owner, { authorizedSenders: [nodeAddress] })
    const consumer = await deployContract(owner, {
      name: 'PriceConsumer',
      abi: PriceConsumerAbi,
      bytecode: PriceConsumerBytecode,
      args: [core.linkToken, core.operator],
    })
    await owner.waitForTransactionReceipt({
      hash: await owner.writeContract({
        address: core.linkToken,
        abi: LinkTokenAbi,
        functionName: 'transfer',
        args: [consumer, 10n ** 18n],
      }),
    })
    line('LinkToken', core.linkToken)
    line('Operator', `${core.operator} (node key ${nodeAddress} authorized)`)
    line('PriceConsumer', `${consumer} (holds 1 LINK)`)

    // The node: its own data folder (PGlite), the node key imported into its encrypted keystore.
    const commitRevealListeners: ((member: number, e: CommitRevealEvent) => void)[] = []
    const ocaListeners: ((member: number, e: OcaJobEvent) => void)[] = []
    const bidderListeners: ((member: number, e: BidderEvent) => void)[] = []
    const startMember = async (member: number, extra: { onEvent?: typeof onEvent } = {}) => {
      const local = await startLocalNode({
        rpcUrl: anvil.rpcUrl,
        chainId: anvil.chainId,
        privateKey: ANVIL_PRIVATE_KEYS[member + 1] as `0x${string}`,
        logger: createLogger({ level: 'warn' }),
        onCommitRevealEvent: (e) => {
          for (const listener of commitRevealListeners) listener(member, e)
        },
        onOcaEvent: (e) => {
          for (const listener of ocaListeners) listener(member, e)
        },
        onBidderEvent: (e) => {
          for (const listener of bidderListeners) listener(member, e)
        },
        ...extra,
      })
      cleanup.push(() => local.stop())
      return local
    }
    const onEvent = (e: DirectRequestEvent) => {
      if (e.kind === 'request') line('node', `run ${e.runId} started for request ${e.requestId}`)
      if (e.kind === 'tx-enqueued')
        line('node', `run ${e.runId}: fulfillOracleRequest2 queued (transaction #${e.txId})`)
      if (e.kind === 'run-finished') {
        line('node', `run ${e.runId} ${e.failed ? `failed: ${e.errors.join('; ')}` : 'finished'}`)
      }
      if (e.kind === 'rejected') line('node', `request ${e.requestId} not served: ${e.reason}`)
    }
    const first = await startMember(0, { onEvent })
    const node = first.node
    line(
      'node',
      `started: API ${node.apiUrl}, key ${node.keys.join(', ')}, database PGlite in ${first.dataDir}`,
    )

    const api = async (path: string, type: string, body: string) => {
      const res = await fetch(`${node.apiUrl}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${node.apiToken}`, 'content-type': type },
        body,
      })
      if (res.status !== 201) throw new Error(`POST ${path} failed: ${await res.text()}`)
    }
    await api(
      '/v2/bridges',
      'application/json',
      JSON.stringify({ name: 'price', url: adapter.url }),
    )
    line('bridge', `price -> ${adapter.url} added through the API`)

    // The published spec, its fetch going to the price adapter instead of a URL, and the
    // scaled median rounded to a whole number for uint256 (a median of an even count of
    // sources has more decimals than any source).
    const externalJobID = randomUUID()
    const toml = (await readFile(SPEC, 'utf8'))
      .replace(/externalJobID = ".*"/, `externalJobID = "${externalJobID}"`)
      .replaceAll(TEMPLATE_OPERATOR, core.operator)
      .replace(/fetch {8}\[type="http"[^\]]*\]/, BRIDGE_FETCH)
      .replace('path="$(decode_cbor.path)"', 'path="data,result"')
      .replace(
        /(multiply +\[type="multiply"[^\]]*\])/,
        '$1\n    scaled [type="divide" input="$(multiply)" divisor="1" precision="0"]',
      )
      .replace('$(multiply) }', '$(scaled) }')
      .replace('-> multiply ->', '-> multiply -> scaled ->')
    await api('/v2/jobs', 'application/toml', toml)
    line(
      'job',
      `get-uint256 (fetch through bridge "price") created through the API (externalJobID ${externalJobID})`,
    )

    const requestReceipt = await owner.waitForTransactionReceipt({
      hash: await owner.writeContract({
        address: consumer,
        abi: PriceConsumerAbi,
        functionName: 'requestValue',
        args: [specIdOf(externalJobID), PAYMENT, 'bridge:price', 'price', TIMES, true],
      }),
    })
    const [request] = oracleRequestsIn(requestReceipt)
    if (!request) throw new Error('the request transaction emitted no OracleRequest')
    line(
      'request',
      `${request.requestId} paying ${formatUnits(request.payment, 18)} LINK (block ${requestReceipt.blockNumber})`,
    )

    // Wait for the consumer's AnswerReceived event.
    const deadline = Date.now() + 60_000
    for (;;) {
      const logs = await owner.getLogs({ address: consumer, fromBlock: requestReceipt.blockNumber })
      const [answered] = parseEventLogs({
        abi: PriceConsumerAbi,
        logs,
        eventName: 'AnswerReceived',
      })
      if (answered) {
        const tx = await owner.getTransactionReceipt({ hash: answered.transactionHash })
        line('fulfilled', `in block ${tx.blockNumber} by ${tx.from} (gas ${tx.gasUsed})`)
        break
      }
      if (Date.now() > deadline) throw new Error('the node did not answer within 60 s')
      await new Promise((r) => setTimeout(r, 100))
    }
    const answer = await owner.readContract({
      address: consumer,
      abi: PriceConsumerAbi,
      functionName: 'latestAnswer',
    })
    const observed = await adapterAnswer(node.apiUrl, node.apiToken, externalJobID)
    line(
      'on-chain answer',
      `${answer} (PriceConsumer.latestAnswer, ${PAIR} x ${TIMES}; the price adapter said ${observed.result} from ${observed.used})`,
    )

    // A further node with its own price adapter over the exchanges `sources` picks.
    const startWithAdapter = async (
      member: number,
      sources: (index: number) => boolean,
      minSources: number,
      about = '',
    ) => {
      const config = priceConfig(exchanges)
      const own = await serveAdapter(
        createPriceAdapter({
          config: PriceConfigSchema.parse({
            ...config,
            minSources,
            sources: config.sources.filter((_, j) => sources(j)),
          }),
          http: adapterHttp,
        }),
      )
      cleanup.push(() => own.close())
      const local = await startMember(member)
      await local.post(
        '/v2/bridges',
        'application/json',
        JSON.stringify({ name: 'price', url: own.url }),
      )
      const started = `started: API ${local.node.apiUrl}, key ${local.node.keys.join(', ')}, its own price adapter ${own.url}${about}`
      return { local, print: () => line(`node ${member + 1}`, started) }
    }
    // Part two: a committee of four nodes (this one and three more, each with its own price
    // adapter over four of the five exchanges) answers through commit–reveal and keeps a feed.
    const nodes = [first]
    for (let member = 1; member < 4; member++) {
      const { local, print } = await startWithAdapter(member, (j) => j !== member, 2)
      print()
      nodes.push(local)
    }
    const committee = await runCommitteeDemo({
      owner,
      link: core.linkToken,
      nodes,
      line,
      onEvents: (listener) => commitRevealListeners.push(listener),
    })
    commitRevealListeners.length = 0 // part two is over; its rounds are not printed again

    // Part three: the same four nodes as an off-chain aggregation committee (issue 7), through
    // the offchainaggregation job: a group key by DKG over libp2p, then feed rounds signed with
    // one threshold signature each.
    const oca = await runOcaDemo({
      owner,
      nodes,
      line,
      onEvents: (listener) => ocaListeners.push(listener),
    })
    cleanup.push(() => oca.stop())
    await oca.stop()
    line('jobs', 'offchainaggregation jobs deleted through the API')

    // Part four: order matching (issue 8). Two more nodes join, each with its own adapter; node
    // 5's sees only exchange 5, which is down, so it can bid but never answer. A purchaser posts
    // an SLA, the market selects four of the bidders, they serve the round, the deposits are
    // returned or forfeited and the reputation contract records it.
    const [fifth, sixth] = await Promise.all([
      startWithAdapter(
        4,
        (j) => j === 4,
        1,
        ' over exchange 5 only, which is down: it will not be able to answer',
      ),
      startWithAdapter(5, (j) => j !== 0, 2),
    ])
    fifth.print()
    sixth.print()
    const market = await runMarketDemo({
      owner,
      purchaser: await createChainClient({
        rpcUrl: anvil.rpcUrl,
        privateKey: ANVIL_PRIVATE_KEYS[7] as `0x${string}`,
      }),
      link: core.linkToken,
      nodes: [...nodes, fifth.local, sixth.local],
      line,
      onCommitRevealEvents: (listener) => commitRevealListeners.push(listener),
      onBidderEvents: (listener) => bidderListeners.push(listener),
    })
    return {
      market,
      oca: oca.rounds,
      committee,
      answer,
      observed: observed.result,
      requestId: request.requestId,
      consumer,
      operator: core.operator,
    }
  } finally {
    for (const fn of cleanup.reverse()) await fn().catch(() => {})
  }
}
