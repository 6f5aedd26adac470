import { type Address, type Hex, parseEventLogs, type TransactionReceipt } from 'viem'
import { OperatorAbi } from '../../artifacts/abis.ts'

/** The fields of an Operator's `OracleRequest` event. */
export type OracleRequestLog = {
  specId: Hex
  requester: Address
  requestId: Hex
  payment: bigint
  callbackAddr: Address
  callbackFunctionId: Hex
  cancelExpiration: bigint
  dataVersion: bigint
  data: Hex
}

/** The `OracleRequest` events in a receipt, in log order. */
export function oracleRequestsIn(receipt: Pick<TransactionReceipt, 'logs'>): OracleRequestLog[] {
  return parseEventLogs({ abi: OperatorAbi, logs: receipt.logs, eventName: 'OracleRequest' }).map(
    (l) => l.args as OracleRequestLog,
  )
}
