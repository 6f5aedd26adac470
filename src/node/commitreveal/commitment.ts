import { randomBytes } from 'node:crypto'
import type { Hex } from 'viem'

/**
 * What opens a commitment: the salt. The commitment itself is `commitmentOf` in
 * `src/chain/commit-reveal.ts` (the contract's `commitmentFor`, checked against it in
 * `commitment.test.ts`).
 */

/** A fresh random 32-byte salt: it hides the value until the reveal, so it must be unguessable. */
export function randomSalt(): Hex {
  return `0x${randomBytes(32).toString('hex')}`
}
