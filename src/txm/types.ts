import type { Address, Hex } from 'viem'

/** Where a transaction is in its life. See docs/protocol/txm.md for the transitions. */
export type TxState = 'unstarted' | 'unconfirmed' | 'confirmed' | 'reverted' | 'fatal_error'

/** Where one signed attempt is: persisted only, or accepted by the node at least once. */
export type AttemptState = 'in_progress' | 'broadcast'

/** What a caller asks the transaction manager to send. */
export type TxRequest = {
  /** The sending key; chosen round-robin among the enabled keys when absent. */
  from?: Address | undefined
  to: Address
  data: Hex
  value?: bigint | undefined
  /** The manager's `defaultGasLimit` when absent. */
  gasLimit?: bigint | undefined
  /** Blocks deep the receipt must be, at least; the manager's `confirmations` when larger. */
  minConfirmations?: number | undefined
  /** One transaction per key, ever (e.g. `<run id>/<task id>`). */
  idempotencyKey: string
}

/** What is kept of a receipt (all numbers as decimal strings, JSON-safe). */
export type ReceiptSummary = {
  transactionHash: Hex
  blockHash: Hex
  blockNumber: string
  transactionIndex: number
  status: 'success' | 'reverted'
  gasUsed: string
  effectiveGasPrice: string
  logs: number
}

export type Attempt = {
  id: bigint
  txId: bigint
  hash: Hex
  signedRaw: Hex
  maxFeePerGas: bigint
  maxPriorityFeePerGas: bigint
  state: AttemptState
  /** The latest block number when the node first accepted this attempt. */
  broadcastBlock: bigint | null
  createdAt: Date
}

export type Tx = {
  id: bigint
  chainId: number
  from: Address
  to: Address
  data: Hex
  value: bigint
  gasLimit: bigint
  nonce: number | null
  state: TxState
  idempotencyKey: string | null
  minConfirmations: number
  /** The latest problem, in words (cleared when the transaction confirms). */
  error: string | null
  revertReason: string | null
  receipt: ReceiptSummary | null
  createdAt: Date
  broadcastAt: Date | null
  confirmedAt: Date | null
}

export type TxWithAttempts = Tx & { attempts: Attempt[] }

/** EIP-1559 fees of one attempt. */
export type Fees = { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }
