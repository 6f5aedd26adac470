import { BaseError } from '../errors.ts'

/** Anything the transaction manager refuses or cannot do. */
export class TxmError extends BaseError {
  override name = 'TxmError'
}
