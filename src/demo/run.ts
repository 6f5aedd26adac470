import { type Address, formatUnits, toHex } from 'viem'
import { LinkTokenAbi, PriceConsumerAbi, PriceConsumerBytecode } from '../../artifacts/abis.ts'
import { startSimulatedSource } from '../adapters/sources/simulated.ts'
import { ANVIL_PRIVATE_KEYS, startAnvil } from '../chain/anvil.ts'
import { createChainClient } from '../chain/client.ts'
import { deployContract, deployCore } from '../chain/deploy.ts'
import { oracleRequestsIn } from '../chain/operator-events.ts'
import { fulfil, observe } from './manual-oracle.ts'

export type DemoResult = {
  rpcUrl: string
  linkToken: Address
  operator: Address
  consumer: Address
  requestId: string
  observed: string
  answer: bigint
  requestGas: bigint
  fulfilGas: bigint
}

const PAIR = 'ETH-USD'
const TIMES = 100n
const PAYMENT = 10n ** 17n

/**
 * The main job for now (`npm start`): a local chain, LinkToken + Operator + an example
 * consumer, one request for a price from a simulated exchange, fulfilled from an authorized
 * key, and the answer read back from the chain.
 */
export async function runDemo(log: (line: string) => void = console.log): Promise<DemoResult> {
  const source = await startSimulatedSource({ pairs: { [PAIR]: 3000 }, seed: Date.now() % 2 ** 31 })
  const anvil = await startAnvil().catch(async (err) => {
    await source.stop()
    throw err
  })
  try {
    log(`local chain     ${anvil.rpcUrl} (anvil, chain id ${anvil.chainId})`)
    log(`price source    ${source.priceUrl(PAIR)} (SIMULATED exchange)`)
    const [ownerKey, nodeKey] = ANVIL_PRIVATE_KEYS
    const owner = await createChainClient({ rpcUrl: anvil.rpcUrl, privateKey: ownerKey })
    const node = await createChainClient({ rpcUrl: anvil.rpcUrl, privateKey: nodeKey })

    const core = await deployCore(owner, { authorizedSenders: [node.account.address] })
    const consumer = await deployContract(owner, {
      name: 'PriceConsumer',
      abi: PriceConsumerAbi,
      bytecode: PriceConsumerBytecode,
      args: [core.linkToken, core.operator],
    })
    log(`LinkToken       ${core.linkToken}`)
    log(`Operator        ${core.operator} (node key ${node.account.address} authorized)`)
    log(`PriceConsumer   ${consumer}`)
    const fund = await owner.writeContract({
      address: core.linkToken,
      abi: LinkTokenAbi,
      functionName: 'transfer',
      args: [consumer, 10n ** 18n],
    })
    await owner.waitForTransactionReceipt({ hash: fund })

    const specId = toHex('orakel-demo-eth-usd', { size: 32 })
    const requestHash = await owner.writeContract({
      address: consumer,
      abi: PriceConsumerAbi,
      functionName: 'requestValue',
      args: [specId, PAYMENT, source.priceUrl(PAIR), 'price', TIMES, false],
    })
    const requestReceipt = await owner.waitForTransactionReceipt({ hash: requestHash })
    const [request] = oracleRequestsIn(requestReceipt)
    if (!request) throw new Error('the request transaction emitted no OracleRequest')
    log(
      `request         ${request.requestId} paying ${formatUnits(request.payment, 18)} LINK ` +
        `(gas ${requestReceipt.gasUsed})`,
    )

    const { value, observed, params } = await observe(request)
    log(`observation     ${JSON.stringify(params)} -> ${observed} x ${TIMES} = ${value}`)
    const fulfilReceipt = await fulfil(node, core.operator, request, value)
    log(`fulfilled       by ${node.account.address} (gas ${fulfilReceipt.gasUsed})`)

    const answer = await owner.readContract({
      address: consumer,
      abi: PriceConsumerAbi,
      functionName: 'latestAnswer',
    })
    log(`on-chain answer ${answer} (PriceConsumer.latestAnswer, ${PAIR} x ${TIMES})`)
    return {
      rpcUrl: anvil.rpcUrl,
      linkToken: core.linkToken,
      operator: core.operator,
      consumer,
      requestId: request.requestId,
      observed,
      answer,
      requestGas: requestReceipt.gasUsed,
      fulfilGas: fulfilReceipt.gasUsed,
    }
  } finally {
    await anvil.stop()
    await source.stop()
  }
}
