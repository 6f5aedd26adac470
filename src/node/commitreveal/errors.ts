import { BaseError } from '../../errors.ts'

/** A commitreveal job cannot take part in a round (or a feed decision cannot be made). */
export class CommitRevealError extends BaseError {
  override name = 'CommitRevealError'
}
