import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { bytesToHex, type Hex, hexToBytes, isHex } from 'viem'
import { BaseError } from '../errors.ts'

/**
 * Encryption at rest for OCA secrets (the member's key share, its nonce shares): AES-256-GCM
 * under a 32-byte data key, with associated data naming what the secret is (configuration,
 * round, view…), so a sealed value moved to another row does not open. The data key itself is
 * kept as a V3 keystore under the node's keystore password (`openSealingKey` in
 * src/store/oca.ts), so the database alone reveals no share.
 *
 * Sealed form: `0x01 ‖ iv [12] ‖ ciphertext ‖ tag [16]`, hex.
 */

export class SealingError extends BaseError {
  override name = 'SealingError'
}

const VERSION = 1
const IV_BYTES = 12
const TAG_BYTES = 16

export type Sealer = {
  seal(plaintext: Uint8Array, associated: string): Hex
  /** Throws `SealingError` if the value was not sealed with this key and associated data. */
  open(sealed: Hex, associated: string): Uint8Array
}

export function createSealer(key: Uint8Array): Sealer {
  if (!(key instanceof Uint8Array) || key.length !== 32)
    throw new SealingError('a sealing key is 32 bytes')
  const k = Buffer.from(key)
  return {
    seal(plaintext, associated) {
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv('aes-256-gcm', k, iv)
      cipher.setAAD(Buffer.from(associated, 'utf8'))
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()])
      return bytesToHex(Buffer.concat([Buffer.of(VERSION), iv, body, cipher.getAuthTag()]))
    },
    open(sealed, associated) {
      if (!isHex(sealed, { strict: true }))
        throw new SealingError('not a sealed value', { details: 'expected hex' })
      const bytes = hexToBytes(sealed)
      if (bytes.length < 1 + IV_BYTES + TAG_BYTES || bytes[0] !== VERSION)
        throw new SealingError('not a sealed value', { details: `version ${bytes[0]}` })
      const iv = bytes.subarray(1, 1 + IV_BYTES)
      const tag = bytes.subarray(bytes.length - TAG_BYTES)
      const body = bytes.subarray(1 + IV_BYTES, bytes.length - TAG_BYTES)
      try {
        const decipher = createDecipheriv('aes-256-gcm', k, iv)
        decipher.setAAD(Buffer.from(associated, 'utf8'))
        decipher.setAuthTag(tag)
        return new Uint8Array(Buffer.concat([decipher.update(body), decipher.final()]))
      } catch {
        throw new SealingError('a sealed value does not open with this key', {
          details: `for ${associated}`,
        })
      }
    },
  }
}
