/**
 * Ethereum Web3 Secret Storage (version 3 JSON keystore), compatible with geth, ethers and
 * foundry's `cast wallet`.
 *
 * Layout: a KDF (scrypt or pbkdf2-hmac-sha256) turns the password into a 32-byte derived key;
 * its first 16 bytes are the AES-128-CTR key that encrypts the private key, and
 * `mac = keccak256(derivedKey[16..32] ++ ciphertext)` authenticates the ciphertext.
 *
 * Nothing in this module puts key material or passwords into an error message.
 */
import {
  createCipheriv,
  createDecipheriv,
  randomBytes,
  randomUUID,
  timingSafeEqual,
} from 'node:crypto'
import { open } from 'node:fs/promises'
import { pbkdf2Async } from '@noble/hashes/pbkdf2.js'
import { scryptAsync } from '@noble/hashes/scrypt.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { privateKeyToAddress } from 'viem/accounts'
import { BaseError } from '../errors.ts'

export class KeystoreError extends BaseError {
  override name = 'KeystoreError'
}

export type ScryptKdfParams = { dklen: number; n: number; r: number; p: number; salt: string }
export type Pbkdf2KdfParams = { dklen: number; c: number; prf: 'hmac-sha256'; salt: string }

type KeystoreCryptoCommon = {
  cipher: 'aes-128-ctr'
  cipherparams: { iv: string }
  ciphertext: string
  mac: string
}

export type KeystoreCrypto = KeystoreCryptoCommon &
  ({ kdf: 'scrypt'; kdfparams: ScryptKdfParams } | { kdf: 'pbkdf2'; kdfparams: Pbkdf2KdfParams })

export type KeystoreV3 = {
  version: 3
  id: string
  /** Lowercase hex address without `0x`. */
  address?: string
  crypto: KeystoreCrypto
}

export type EncryptKeystoreOptions = {
  /** scrypt cost; a power of two. Default 2**17 (geth's "standard" setting). */
  scryptN?: number
  /** scrypt block size. Default 8. */
  scryptR?: number
  /** scrypt parallelism. Default 1. */
  scryptP?: number
  /** KDF salt (16..1024 bytes). Default 32 random bytes. */
  salt?: Uint8Array
  /** AES-CTR IV (16 bytes). Default random. */
  iv?: Uint8Array
  /** Keystore id. Default a random UUID v4. */
  uuid?: string
}

/** Largest scrypt memory we agree to use: n * r * 128 bytes. */
export const MAX_SCRYPT_MEMORY = 1024 ** 3
/** Largest scrypt parallelism we accept. */
export const MAX_SCRYPT_P = 16
/** Largest pbkdf2 iteration count we accept. */
export const MAX_PBKDF2_C = 10_000_000
/** Largest KDF salt we accept, in bytes. */
const MAX_SALT_BYTES = 1024
/** Files larger than this are not keystores / key files / password files. */
const MAX_KEYSTORE_FILE_BYTES = 1024 * 1024
const MAX_KEY_FILE_BYTES = 4096
const MAX_PASSWORD_FILE_BYTES = 64 * 1024

export const DEFAULT_PASSWORD_ENV = 'ORAKEL_KEYSTORE_PASSWORD'

const SECP256K1_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
const WRONG_PASSWORD = 'wrong password or corrupted keystore'
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

// ---------------------------------------------------------------------------------------------
// Encrypt / decrypt
// ---------------------------------------------------------------------------------------------

export async function encryptKeystore(
  privateKey: `0x${string}`,
  password: string,
  options: EncryptKeystoreOptions = {},
): Promise<KeystoreV3> {
  if (typeof password !== 'string') throw new KeystoreError('password must be a string')
  const key = parsePrivateKeyHex(privateKey, 'private key')
  const n = options.scryptN ?? 2 ** 17
  const r = options.scryptR ?? 8
  const p = options.scryptP ?? 1
  checkScryptParams(n, r, p, 'options.scryptN', 'options.scryptR', 'options.scryptP')

  const salt = options.salt ?? randomBytes(32)
  if (!(salt instanceof Uint8Array) || salt.length < 16 || salt.length > MAX_SALT_BYTES)
    throw new KeystoreError(`options.salt must be a Uint8Array of 16..${MAX_SALT_BYTES} bytes`)
  const iv = options.iv ?? randomBytes(16)
  if (!(iv instanceof Uint8Array) || iv.length !== 16)
    throw new KeystoreError('options.iv must be a Uint8Array of 16 bytes')
  const id = options.uuid ?? randomUUID()
  if (typeof id !== 'string' || !UUID_RE.test(id))
    throw new KeystoreError('options.uuid must be a UUID (8-4-4-4-12 hex digits)')

  const derived = await scryptAsync(utf8(password), salt, {
    N: n,
    r,
    p,
    dkLen: 32,
    maxmem: 128 * r * (n + p),
  })
  try {
    const cipher = createCipheriv('aes-128-ctr', derived.subarray(0, 16), iv)
    const ciphertext = Buffer.concat([cipher.update(key), cipher.final()])
    const mac = computeMac(derived, ciphertext)
    return {
      version: 3,
      id: id.toLowerCase(),
      address: privateKeyToAddress(toHex0x(key)).slice(2).toLowerCase(),
      crypto: {
        cipher: 'aes-128-ctr',
        cipherparams: { iv: hex(iv) },
        ciphertext: hex(ciphertext),
        kdf: 'scrypt',
        kdfparams: { dklen: 32, n, r, p, salt: hex(salt) },
        mac: hex(mac),
      },
    }
  } finally {
    derived.fill(0)
    key.fill(0)
  }
}

/**
 * Decrypts a V3 keystore (a parsed JSON value or its JSON text) and returns the private key.
 * A wrong password or a tampered file fails with `wrong password or corrupted keystore`.
 */
export async function decryptKeystore(keystore: unknown, password: string): Promise<`0x${string}`> {
  if (typeof password !== 'string') throw new KeystoreError('password must be a string')
  const parsed = parseKeystore(keystore)

  // Geth and foundry use the password's raw UTF-8 bytes; ethers NFKC-normalizes it first.
  // Try the raw form, then (only if it differs) the normalized one, so both kinds of file open.
  const candidates = [password]
  const normalized = password.normalize('NFKC')
  if (normalized !== password) candidates.push(normalized)

  for (const candidate of candidates) {
    const derived = await deriveKey(parsed, utf8(candidate))
    try {
      const mac = computeMac(derived, parsed.ciphertext)
      if (!timingSafeEqual(mac, parsed.mac)) continue
      const decipher = createDecipheriv('aes-128-ctr', derived.subarray(0, 16), parsed.iv)
      const plain = Buffer.concat([decipher.update(parsed.ciphertext), decipher.final()])
      try {
        if (!isValidPrivateKey(plain))
          throw new KeystoreError('keystore holds an invalid secp256k1 private key')
        const privateKey = toHex0x(plain)
        if (parsed.address !== undefined) {
          const actual = privateKeyToAddress(privateKey).slice(2).toLowerCase()
          if (actual !== parsed.address)
            throw new KeystoreError('keystore address does not match the decrypted key', {
              details: `the file says 0x${parsed.address}, the key belongs to 0x${actual}`,
            })
        }
        return privateKey
      } finally {
        plain.fill(0)
      }
    } finally {
      derived.fill(0)
    }
  }
  throw new KeystoreError(WRONG_PASSWORD)
}

// ---------------------------------------------------------------------------------------------
// Files and passwords
// ---------------------------------------------------------------------------------------------

/**
 * Reads a file holding one hex private key (with or without `0x`, surrounding whitespace ok).
 * Errors name the file but never include its contents.
 */
export async function readPrivateKeyFile(path: string): Promise<`0x${string}`> {
  const text = await readSmallFile(path, MAX_KEY_FILE_BYTES, 'private key file')
  const trimmed = text.trim()
  const body = trimmed.startsWith('0x') || trimmed.startsWith('0X') ? trimmed.slice(2) : trimmed
  if (!/^[0-9a-fA-F]{64}$/.test(body))
    throw new KeystoreError(`private key file ${path} does not hold a 32-byte hex private key`, {
      metaMessages: ['Expected 64 hex digits, optionally prefixed with 0x.'],
    })
  const key = Buffer.from(body, 'hex')
  try {
    if (!isValidPrivateKey(key))
      throw new KeystoreError(`private key file ${path} holds an invalid secp256k1 private key`, {
        metaMessages: ['The key must be non-zero and below the secp256k1 group order.'],
      })
    return toHex0x(key)
  } finally {
    key.fill(0)
  }
}

/** Reads and decrypts a V3 keystore file. */
export async function readKeystoreFile(path: string, password: string): Promise<`0x${string}`> {
  const text = await readSmallFile(path, MAX_KEYSTORE_FILE_BYTES, 'keystore file')
  try {
    return await decryptKeystore(text, password)
  } catch (err) {
    if (err instanceof KeystoreError)
      throw new KeystoreError(`keystore file ${path}: ${err.shortMessage}`, {
        details: err.details,
        metaMessages: err.metaMessages,
        cause: err,
      })
    throw err
  }
}

/**
 * The keystore password: the contents of `passwordFile` (trailing newlines stripped) if given,
 * else the environment variable `envName` (default ORAKEL_KEYSTORE_PASSWORD). An empty
 * environment variable counts as unset.
 */
export async function readPassword(options: {
  passwordFile?: string
  env?: NodeJS.ProcessEnv
  envName?: string
}): Promise<string> {
  if (options.passwordFile !== undefined) {
    const text = await readSmallFile(options.passwordFile, MAX_PASSWORD_FILE_BYTES, 'password file')
    return text.replace(/[\r\n]+$/, '')
  }
  const envName = options.envName ?? DEFAULT_PASSWORD_ENV
  const value = (options.env ?? process.env)[envName]
  if (value !== undefined && value !== '') return value
  throw new KeystoreError('no keystore password given', {
    metaMessages: [`Pass a password file or set the ${envName} environment variable.`],
  })
}

// ---------------------------------------------------------------------------------------------
// Parsing and validation
// ---------------------------------------------------------------------------------------------

type ParsedKeystore = {
  address: string | undefined
  iv: Buffer
  ciphertext: Buffer
  mac: Buffer
  kdf:
    | { kind: 'scrypt'; n: number; r: number; p: number; dklen: number; salt: Buffer }
    | { kind: 'pbkdf2'; c: number; dklen: number; salt: Buffer }
}

function parseKeystore(input: unknown): ParsedKeystore {
  let value = input
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value)
    } catch {
      // The parser's message quotes the input, which might be a pasted secret: leave it out.
      throw new KeystoreError('keystore is not valid JSON')
    }
  }
  if (!isRecord(value)) throw new KeystoreError('keystore must be a JSON object')
  if (value.version !== 3)
    throw new KeystoreError('keystore version must be 3', {
      details: `got ${describe(value.version)}`,
    })
  if (value.id !== undefined && typeof value.id !== 'string')
    throw new KeystoreError('id must be a string')

  let address: string | undefined
  if (value.address !== undefined && value.address !== null && value.address !== '') {
    if (typeof value.address !== 'string') throw new KeystoreError('address must be a string')
    const a = strip0x(value.address)
    if (!/^[0-9a-fA-F]{40}$/.test(a)) throw new KeystoreError('address must be 20 bytes of hex')
    address = a.toLowerCase()
  }

  // Some old writers (MyEtherWallet) used `Crypto`; geth reads both.
  const crypto = value.crypto ?? value.Crypto
  if (!isRecord(crypto)) throw new KeystoreError('crypto must be an object')

  if (crypto.cipher !== 'aes-128-ctr')
    throw new KeystoreError('crypto.cipher is unsupported', {
      details: `only aes-128-ctr is supported, got ${describe(crypto.cipher)}`,
    })
  if (!isRecord(crypto.cipherparams))
    throw new KeystoreError('crypto.cipherparams must be an object')
  const iv = hexField(crypto.cipherparams.iv, 'crypto.cipherparams.iv')
  if (iv.length !== 16) throw new KeystoreError('crypto.cipherparams.iv must be 16 bytes')
  const ciphertext = hexField(crypto.ciphertext, 'crypto.ciphertext')
  if (ciphertext.length !== 32)
    throw new KeystoreError('crypto.ciphertext must be 32 bytes (one secp256k1 private key)')
  const mac = hexField(crypto.mac, 'crypto.mac')
  if (mac.length !== 32) throw new KeystoreError('crypto.mac must be 32 bytes')

  if (!isRecord(crypto.kdfparams)) throw new KeystoreError('crypto.kdfparams must be an object')
  const kp = crypto.kdfparams
  if (kp.dklen !== 32) throw new KeystoreError('crypto.kdfparams.dklen must be 32')
  const salt = hexField(kp.salt, 'crypto.kdfparams.salt')
  if (salt.length > MAX_SALT_BYTES)
    throw new KeystoreError(`crypto.kdfparams.salt must be at most ${MAX_SALT_BYTES} bytes`)

  let kdf: ParsedKeystore['kdf']
  if (crypto.kdf === 'scrypt') {
    const { n, r, p } = checkScryptParams(
      kp.n,
      kp.r,
      kp.p,
      'crypto.kdfparams.n',
      'crypto.kdfparams.r',
      'crypto.kdfparams.p',
    )
    kdf = { kind: 'scrypt', n, r, p, dklen: 32, salt }
  } else if (crypto.kdf === 'pbkdf2') {
    if (kp.prf !== 'hmac-sha256')
      throw new KeystoreError('crypto.kdfparams.prf is unsupported', {
        details: `only hmac-sha256 is supported, got ${describe(kp.prf)}`,
      })
    const c = kp.c
    if (!isPositiveInt(c)) throw new KeystoreError('crypto.kdfparams.c must be a positive integer')
    if (c > MAX_PBKDF2_C)
      throw new KeystoreError(`crypto.kdfparams.c must be at most ${MAX_PBKDF2_C}`, {
        details: `got ${c}`,
      })
    kdf = { kind: 'pbkdf2', c, dklen: 32, salt }
  } else {
    throw new KeystoreError('crypto.kdf is unsupported', {
      details: `only scrypt and pbkdf2 are supported, got ${describe(crypto.kdf)}`,
    })
  }

  return { address, iv, ciphertext, mac, kdf }
}

function checkScryptParams(
  n: unknown,
  r: unknown,
  p: unknown,
  nName: string,
  rName: string,
  pName: string,
): { n: number; r: number; p: number } {
  if (!isPositiveInt(n) || n < 2 || (n & (n - 1)) !== 0 || n > 2 ** 30)
    throw new KeystoreError(`${nName} must be a power of two > 1`, {
      details: `got ${describe(n)}`,
    })
  if (!isPositiveInt(r)) throw new KeystoreError(`${rName} must be a positive integer`)
  if (!isPositiveInt(p)) throw new KeystoreError(`${pName} must be a positive integer`)
  if (p > MAX_SCRYPT_P)
    throw new KeystoreError(`${pName} must be at most ${MAX_SCRYPT_P}`, { details: `got ${p}` })
  if (n * r * 128 > MAX_SCRYPT_MEMORY)
    throw new KeystoreError(`scrypt memory ${nName} * ${rName} * 128 must be at most 1 GiB`, {
      details: `n=${n}, r=${r} would need ${n * r * 128} bytes`,
    })
  return { n, r, p }
}

async function deriveKey(ks: ParsedKeystore, password: Uint8Array): Promise<Uint8Array> {
  const k = ks.kdf
  if (k.kind === 'scrypt')
    return scryptAsync(password, k.salt, {
      N: k.n,
      r: k.r,
      p: k.p,
      dkLen: k.dklen,
      maxmem: 128 * k.r * (k.n + k.p),
    })
  return pbkdf2Async(sha256, password, k.salt, { c: k.c, dkLen: k.dklen })
}

function computeMac(derived: Uint8Array, ciphertext: Uint8Array): Buffer {
  const input = new Uint8Array(16 + ciphertext.length)
  input.set(derived.subarray(16, 32), 0)
  input.set(ciphertext, 16)
  const mac = Buffer.from(keccak_256(input))
  input.fill(0)
  return mac
}

function parsePrivateKeyHex(value: unknown, what: string): Buffer {
  if (typeof value !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(value))
    throw new KeystoreError(`${what} must be 0x followed by 64 hex digits`)
  const key = Buffer.from(value.slice(2), 'hex')
  if (!isValidPrivateKey(key)) {
    key.fill(0)
    throw new KeystoreError(`${what} is not a valid secp256k1 private key`, {
      metaMessages: ['The key must be non-zero and below the secp256k1 group order.'],
    })
  }
  return key
}

function isValidPrivateKey(key: Uint8Array): boolean {
  if (key.length !== 32) return false
  const k = BigInt(`0x${Buffer.from(key.buffer, key.byteOffset, key.length).toString('hex')}`)
  return k > 0n && k < SECP256K1_ORDER
}

async function readSmallFile(path: string, maxBytes: number, what: string): Promise<string> {
  let handle: Awaited<ReturnType<typeof open>> | undefined
  try {
    handle = await open(path, 'r')
    const { size } = await handle.stat()
    if (size > maxBytes)
      throw new KeystoreError(`${what} ${path} is too large`, {
        details: `${size} bytes, at most ${maxBytes} allowed`,
      })
    const buf = Buffer.alloc(maxBytes + 1)
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0)
    if (bytesRead > maxBytes) throw new KeystoreError(`${what} ${path} is too large`)
    const text = buf.toString('utf8', 0, bytesRead)
    buf.fill(0)
    return text
  } catch (err) {
    if (err instanceof KeystoreError) throw err
    const code = (err as { code?: unknown }).code
    throw new KeystoreError(`cannot read ${what} ${path}`, {
      details: typeof code === 'string' ? code : undefined,
      cause: err,
    })
  } finally {
    await handle?.close()
  }
}

function hexField(value: unknown, name: string): Buffer {
  if (typeof value !== 'string') throw new KeystoreError(`${name} must be a hex string`)
  const body = strip0x(value)
  if (body.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(body))
    throw new KeystoreError(`${name} must be a hex string`)
  return Buffer.from(body, 'hex')
}

function strip0x(s: string): string {
  return s.startsWith('0x') || s.startsWith('0X') ? s.slice(2) : s
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0
}

/** A short, safe description of an untrusted JSON value for error details. */
function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 32 ? `${v.slice(0, 32)}…` : v)
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v)
  if (v === undefined) return 'nothing'
  return Array.isArray(v) ? 'an array' : 'an object'
}

function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s)
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex')
}

function toHex0x(bytes: Uint8Array): `0x${string}` {
  return `0x${hex(bytes)}`
}
