export { classifySendError, type SendOutcome } from './classify.ts'
export { TxmError } from './errors.ts'
export { bumpFees, feeCapError, initialFees, NODE_MIN_BUMP_PERCENT } from './fees.ts'
export { contractErrorsAbi, decodeRevertData } from './revert-reason.ts'
export type { TxmClient } from './rpc.ts'
export { createTxm, intrinsicGas, type Txm, type TxmOptions } from './txm.ts'
export type {
  Attempt,
  AttemptState,
  Fees,
  ReceiptSummary,
  Tx,
  TxRequest,
  TxState,
  TxWithAttempts,
} from './types.ts'
