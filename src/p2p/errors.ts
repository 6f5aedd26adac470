import { BaseError } from '../errors.ts'

/** Anything the committee network refuses or cannot do (bad keys, committees, messages). */
export class P2pError extends BaseError {
  override name = 'P2pError'
}

/** A frame or envelope that does not parse, or is larger than allowed. */
export class P2pFrameError extends P2pError {
  override name = 'P2pFrameError'
}
