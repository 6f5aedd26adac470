import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import type { Hex } from 'viem'
import { createSealer, SealingError } from './sealing.ts'

describe('sealing OCA secrets', () => {
  const sealer = createSealer(randomBytes(32))
  const secret = Uint8Array.from(randomBytes(32))

  it('opens what it sealed, under the same associated data only', () => {
    const sealed = sealer.seal(secret, 'nonce|r1|v0')
    assert.deepEqual(sealer.open(sealed, 'nonce|r1|v0'), secret)
    assert.notEqual(sealer.seal(secret, 'nonce|r1|v0'), sealed, 'a fresh IV each time')
    assert.throws(() => sealer.open(sealed, 'nonce|r2|v0'), SealingError)
    assert.throws(() => createSealer(randomBytes(32)).open(sealed, 'nonce|r1|v0'), SealingError)
  })

  it('refuses tampered or foreign values', () => {
    const sealed = sealer.seal(secret, 'x')
    const flipped =
      `${sealed.slice(0, 40)}${sealed[40] === '0' ? '1' : '0'}${sealed.slice(41)}` as Hex
    assert.throws(() => sealer.open(flipped, 'x'), SealingError)
    assert.throws(() => sealer.open(`0x02${sealed.slice(4)}` as Hex, 'x'), /not a sealed value/)
    assert.throws(() => sealer.open('0x01' as Hex, 'x'), /not a sealed value/)
    assert.throws(() => sealer.open('nope' as Hex, 'x'), /not a sealed value/)
    assert.throws(() => createSealer(new Uint8Array(16)), /32 bytes/)
  })
})
