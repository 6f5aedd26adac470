import { type Address, type Hex, hexToBigInt, numberToHex } from 'viem'
import { TxmError } from './errors.ts'
import type { ReceiptSummary } from './types.ts'

/**
 * The JSON-RPC the transaction manager needs, as raw requests through `client.request` (so
 * any viem client works, and a test can wrap `request` to inject failures).
 */
export type TxmClient = {
  // Method syntax on purpose: a viem client's strictly typed `request` is assignable.
  request(args: { method: string; params?: unknown }): Promise<unknown>
}

type RpcBlock = { number: Hex; hash: Hex; baseFeePerGas?: Hex; gasLimit: Hex }
type RpcReceipt = {
  transactionHash: Hex
  blockHash: Hex
  blockNumber: Hex
  transactionIndex: Hex
  status: Hex
  gasUsed: Hex
  effectiveGasPrice?: Hex
  logs?: unknown[]
}

export type Head = { number: bigint; baseFee: bigint; gasLimit: bigint }

export async function latestHead(client: TxmClient): Promise<Head> {
  const block = (await client.request({
    method: 'eth_getBlockByNumber',
    params: ['latest', false],
  })) as RpcBlock | null
  if (!block) throw new TxmError('the node returned no latest block', { retryable: true })
  if (block.baseFeePerGas === undefined) {
    throw new TxmError('the chain has no base fee (EIP-1559); the transaction manager needs it')
  }
  return {
    number: hexToBigInt(block.number),
    baseFee: hexToBigInt(block.baseFeePerGas),
    gasLimit: hexToBigInt(block.gasLimit),
  }
}

export async function blockNumber(client: TxmClient): Promise<bigint> {
  return hexToBigInt((await client.request({ method: 'eth_blockNumber' })) as Hex)
}

/** The node's priority fee suggestion; `gasPrice − baseFee` where the method is missing. */
export async function priorityFee(client: TxmClient, baseFee: bigint): Promise<bigint> {
  try {
    return hexToBigInt((await client.request({ method: 'eth_maxPriorityFeePerGas' })) as Hex)
  } catch {
    const gasPrice = hexToBigInt((await client.request({ method: 'eth_gasPrice' })) as Hex)
    return gasPrice > baseFee ? gasPrice - baseFee : 0n
  }
}

export async function nonceAt(
  client: TxmClient,
  address: Address,
  block: 'latest' | 'pending' | bigint,
): Promise<number> {
  const tag = typeof block === 'bigint' ? numberToHex(block) : block
  const hex = (await client.request({
    method: 'eth_getTransactionCount',
    params: [address, tag],
  })) as Hex
  return Number(hexToBigInt(hex))
}

export async function receiptOf(client: TxmClient, hash: Hex): Promise<ReceiptSummary | null> {
  const r = (await client.request({
    method: 'eth_getTransactionReceipt',
    params: [hash],
  })) as RpcReceipt | null
  if (!r?.blockNumber) return null
  return {
    transactionHash: r.transactionHash,
    blockHash: r.blockHash,
    blockNumber: hexToBigInt(r.blockNumber).toString(),
    transactionIndex: Number(hexToBigInt(r.transactionIndex)),
    status: r.status === '0x1' ? 'success' : 'reverted',
    gasUsed: hexToBigInt(r.gasUsed).toString(),
    effectiveGasPrice: r.effectiveGasPrice ? hexToBigInt(r.effectiveGasPrice).toString() : '0',
    logs: r.logs?.length ?? 0,
  }
}

/** Whether the node knows the transaction (in its pool or on chain). */
export async function isKnown(client: TxmClient, hash: Hex): Promise<boolean> {
  const tx = await client.request({ method: 'eth_getTransactionByHash', params: [hash] })
  return tx !== null && tx !== undefined
}

export async function sendRaw(client: TxmClient, raw: Hex): Promise<void> {
  await client.request({ method: 'eth_sendRawTransaction', params: [raw] })
}
