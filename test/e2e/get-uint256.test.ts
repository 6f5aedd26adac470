import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, it } from 'node:test'
import { type Address, encodeAbiParameters, encodeFunctionData, type Hex, toHex } from 'viem'
import { OperatorAbi, PriceConsumerAbi, PriceConsumerBytecode } from '../../artifacts/abis.ts'
import { type SimulatedSource, startSimulatedSource } from '../../src/adapters/sources/simulated.ts'
import type { CoreDeployment } from '../../src/chain/deploy.ts'
import { oracleRequestsIn } from '../../src/chain/operator-events.ts'
import {
  deployContract,
  deployTestCore,
  fundLink,
  LINK,
  send,
  startTestChain,
  type TestChain,
} from '../../src/chain/testing.ts'
import { multiply, parseDecimal, truncate } from '../../src/pipeline/decimal.ts'
import { createHttpClient } from '../../src/pipeline/http-client.ts'
import { parseJobSpec } from '../../src/pipeline/job-spec.ts'
import { runPipeline } from '../../src/pipeline/runner.ts'
import { TASKS } from '../../src/pipeline/tasks/index.ts'

/**
 * The published get-uint256 job spec, unmodified, answers a real OracleRequest log from anvil
 * with a price from a local HTTP source, and its ethtx carries exactly the calldata of
 * fulfillOracleRequest2 — which, sent to the Operator, puts the answer in the consumer.
 */
let chain: TestChain
let source: SimulatedSource
let core: CoreDeployment
let consumer: Address

before(async () => {
  chain = await startTestChain()
  source = await startSimulatedSource({ pairs: { 'ETH-USD': 3000 }, seed: 7 })
  core = await deployTestCore(chain)
  consumer = await deployContract(chain.owner, {
    name: 'PriceConsumer',
    abi: PriceConsumerAbi,
    bytecode: PriceConsumerBytecode,
    args: [core.linkToken, core.operator],
  })
  await fundLink(chain, core.linkToken, consumer, LINK)
})
after(async () => {
  await chain?.stop()
  await source?.stop()
})

it('runs the published get-uint256 spec unmodified and fulfils the request', async () => {
  const spec = readFileSync(join(import.meta.dirname, '../fixtures/get-uint256.toml'), 'utf8')
  const job = parseJobSpec(spec, TASKS)

  const receipt = await send(chain.owner, {
    address: consumer,
    abi: PriceConsumerAbi,
    functionName: 'requestValue',
    args: [
      toHex('get-uint256', { size: 32 }),
      LINK / 10n,
      source.priceUrl('ETH-USD'),
      'price',
      100n,
      true,
    ],
  })
  const [request] = oracleRequestsIn(receipt)
  const log = receipt.logs.find((l) => l.address.toLowerCase() === core.operator.toLowerCase())!
  assert.ok(request && log)

  const submitted: { to: string; data: Hex }[] = []
  const result = await runPipeline({
    pipeline: job.pipeline,
    runId: 'e2e-1',
    vars: {
      jobSpec: { externalJobID: job.spec.externalJobID, name: job.spec.name },
      jobRun: {
        logData: log.data,
        logTopics: log.topics,
        logTxHash: receipt.transactionHash,
        logBlockHash: receipt.blockHash,
        logBlockNumber: receipt.blockNumber,
      },
    },
    deps: {
      http: createHttpClient({ allowUnrestricted: true }),
      allowUnrestrictedNetworkAccess: true,
      txSink: {
        submit: async (tx) => {
          submitted.push({ to: tx.to, data: tx.data as Hex })
          return { id: 'tx-1' }
        },
      },
      evmChainID: 31337n,
    },
  })
  assert.equal(result.failed, false, result.errors.map((e) => e?.message).join('\n'))
  assert.equal(submitted.length, 1)

  const price = source.served[0]!.price
  const value = truncate(multiply(parseDecimal(price), parseDecimal(100)))
  const expected = encodeFunctionData({
    abi: OperatorAbi,
    functionName: 'fulfillOracleRequest2',
    args: [
      request.requestId,
      request.payment,
      request.callbackAddr,
      request.callbackFunctionId,
      request.cancelExpiration,
      encodeAbiParameters([{ type: 'bytes32' }, { type: 'uint256' }], [request.requestId, value]),
    ],
  })
  assert.equal(submitted[0]!.to, '0x613a38AC1659769640aaE063C651F48E0250454C')
  assert.equal(submitted[0]!.data, expected)

  // The spec's `to` is the operator address it was written for; ours is elsewhere on anvil.
  const hash = await chain.node.sendTransaction({ to: core.operator, data: submitted[0]!.data })
  assert.equal((await chain.node.waitForTransactionReceipt({ hash })).status, 'success')
  const answer = await chain.owner.readContract({
    address: consumer,
    abi: PriceConsumerAbi,
    functionName: 'latestAnswer',
  })
  assert.equal(answer, value)
})
