import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { classifySendError, nodeMessage } from './classify.ts'

describe('classifySendError', () => {
  const cases: [string, ReturnType<typeof classifySendError>][] = [
    // anvil
    ['transaction already imported', 'accepted'],
    ['nonce too low', 'nonce_too_low'],
    ['max fee per gas less than block base fee', 'underpriced'],
    ['intrinsic gas too low', 'fatal'],
    ['intrinsic gas too high -- tx.gas_limit > env.block.gas_limit', 'fatal'],
    ['Insufficient funds for gas * price + value', 'retryable'],
    // geth
    ['already known', 'accepted'],
    ['replacement transaction underpriced', 'underpriced'],
    ['transaction underpriced', 'underpriced'],
    ['max fee per gas less than block base fee: address 0x.., maxFeePerGas: 1', 'underpriced'],
    ['exceeds block gas limit', 'fatal'],
    ['invalid sender', 'fatal'],
    ['nonce too high', 'retryable'],
    ['fetch failed', 'retryable'],
    // erigon / nethermind / besu
    ['ALREADY_EXISTS: already known', 'accepted'],
    ['OldNonce', 'nonce_too_low'],
    ['FeeTooLow', 'underpriced'],
    ['Nonce too low', 'nonce_too_low'],
  ]
  for (const [text, outcome] of cases) {
    it(`"${text}" → ${outcome}`, () => {
      assert.equal(classifySendError(new Error(text)), outcome)
    })
  }

  it('reads viem-style errors (details, causes)', () => {
    const err = Object.assign(new Error('Transaction creation failed.'), {
      shortMessage: 'Transaction creation failed.',
      details: 'nonce too low',
    })
    assert.equal(classifySendError(new Error('wrapped', { cause: err })), 'nonce_too_low')
    assert.equal(nodeMessage(err), 'nonce too low')
  })
})
