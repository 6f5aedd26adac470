import {
  type Account,
  type Chain,
  createPublicClient,
  createWalletClient,
  defineChain,
  type Hex,
  http,
  type PublicActions,
  publicActions,
  type Transport,
  type WalletClient,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { BaseError } from '../errors.ts'

/** A wallet client that can also read the chain. */
export type ChainClient = WalletClient<Transport, Chain, Account> & PublicActions<Transport, Chain>

export class RpcError extends BaseError {
  override name = 'RpcError'
}

export type CreateChainClientParameters = {
  rpcUrl: string
  privateKey: Hex
  /** Checked against the RPC's answer when given; read from the RPC otherwise. */
  chainId?: number
  /** Milliseconds between polls for receipts and logs. */
  pollingInterval?: number
}

/** A `ChainClient` for `rpcUrl` signing with `privateKey`, after checking the RPC answers. */
export async function createChainClient(params: CreateChainClientParameters): Promise<ChainClient> {
  const transport = http(params.rpcUrl, { retryCount: 2, timeout: 15_000 })
  let chainId: number
  try {
    chainId = await createPublicClient({ transport }).getChainId()
  } catch (cause) {
    throw new RpcError(`cannot reach the RPC at ${params.rpcUrl}`, { cause, retryable: true })
  }
  if (params.chainId !== undefined && params.chainId !== chainId) {
    throw new RpcError(`the RPC at ${params.rpcUrl} serves chain ${chainId}`, {
      details: `expected chain id ${params.chainId}`,
    })
  }
  const chain = defineChain({
    id: chainId,
    name: `chain-${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [params.rpcUrl] } },
  })
  return createWalletClient({
    account: privateKeyToAccount(params.privateKey),
    chain,
    transport,
    pollingInterval: params.pollingInterval ?? 100,
  }).extend(publicActions) as ChainClient
}
