import assert from 'node:assert/strict'
import { createDecipheriv, scryptSync } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { privateKeyToAddress } from 'viem/accounts'
import {
  decryptKeystore,
  encryptKeystore,
  KeystoreError,
  type KeystoreV3,
  readKeystoreFile,
  readPassword,
  readPrivateKeyFile,
} from './keystore.ts'

// Official Web3 Secret Storage test vectors (password "testpassword").
const VECTOR_KEY = '0x7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d'
const PBKDF2_VECTOR = {
  version: 3,
  id: '3198bc9c-6672-5ab3-d995-4942343ae5b6',
  crypto: {
    cipher: 'aes-128-ctr',
    cipherparams: { iv: '6087dab2f9fdbbfaddc31a909735c1e6' },
    ciphertext: '5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46',
    kdf: 'pbkdf2',
    kdfparams: {
      c: 262144,
      dklen: 32,
      prf: 'hmac-sha256',
      salt: 'ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd',
    },
    mac: '517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2',
  },
}
const SCRYPT_VECTOR = {
  version: 3,
  id: '3198bc9c-6672-5ab3-d995-4942343ae5b6',
  crypto: {
    cipher: 'aes-128-ctr',
    cipherparams: { iv: '83dbcc02d8ccb40e466191a123791e0e' },
    ciphertext: 'd172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c',
    kdf: 'scrypt',
    kdfparams: {
      dklen: 32,
      n: 262144,
      r: 1,
      p: 8,
      salt: 'ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19',
    },
    mac: '2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097',
  },
}

const KEY = '0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318' as const
const FAST = { scryptN: 2 ** 10 }

function clone<T>(v: T): T {
  return structuredClone(v)
}

async function rejectsWith(p: Promise<unknown>, re: RegExp, forbidden: string[] = []) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof KeystoreError, `expected KeystoreError, got ${String(err)}`)
    assert.match(err.message, re)
    for (const f of forbidden) {
      assert.ok(!err.message.includes(f), `message leaks ${JSON.stringify(f)}`)
      assert.ok(!String(err.stack).includes(f), `stack leaks ${JSON.stringify(f)}`)
    }
    return true
  })
}

describe('test vectors', () => {
  test('pbkdf2 vector decrypts', async () => {
    assert.equal(await decryptKeystore(PBKDF2_VECTOR, 'testpassword'), VECTOR_KEY)
  })

  test('scrypt vector decrypts (JSON string input)', async () => {
    assert.equal(await decryptKeystore(JSON.stringify(SCRYPT_VECTOR), 'testpassword'), VECTOR_KEY)
  })

  test('encrypting with the vector parameters reproduces the scrypt vector', async () => {
    const ks = await encryptKeystore(VECTOR_KEY, 'testpassword', {
      scryptN: 262144,
      scryptR: 1,
      scryptP: 8,
      salt: Buffer.from(SCRYPT_VECTOR.crypto.kdfparams.salt, 'hex'),
      iv: Buffer.from(SCRYPT_VECTOR.crypto.cipherparams.iv, 'hex'),
      uuid: SCRYPT_VECTOR.id,
    })
    assert.equal(ks.crypto.ciphertext, SCRYPT_VECTOR.crypto.ciphertext)
    assert.equal(ks.crypto.mac, SCRYPT_VECTOR.crypto.mac)
    assert.deepEqual(ks.crypto.kdfparams, SCRYPT_VECTOR.crypto.kdfparams)
    assert.equal(ks.id, SCRYPT_VECTOR.id)
  })

  test('pbkdf2 vector: wrong password fails closed', async () => {
    await rejectsWith(
      decryptKeystore(PBKDF2_VECTOR, 'testpassworD'),
      /wrong password or corrupted keystore/,
      ['testpassworD', VECTOR_KEY.slice(2)],
    )
  })
})

describe('encrypt / decrypt', () => {
  test('round trip and V3 shape', async () => {
    const ks = await encryptKeystore(KEY, 'hunter2', FAST)
    assert.equal(ks.version, 3)
    assert.match(ks.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    assert.equal(ks.address, privateKeyToAddress(KEY).slice(2).toLowerCase())
    assert.equal(ks.crypto.cipher, 'aes-128-ctr')
    assert.equal(ks.crypto.kdf, 'scrypt')
    assert.match(ks.crypto.cipherparams.iv, /^[0-9a-f]{32}$/)
    assert.match(ks.crypto.ciphertext, /^[0-9a-f]{64}$/)
    assert.match(ks.crypto.mac, /^[0-9a-f]{64}$/)
    assert.deepEqual(
      { ...ks.crypto.kdfparams, salt: undefined },
      { dklen: 32, n: 1024, r: 8, p: 1, salt: undefined },
    )
    assert.ok(!JSON.stringify(ks).includes(KEY.slice(2)))
    assert.equal(await decryptKeystore(ks, 'hunter2'), KEY)
    assert.equal(await decryptKeystore(JSON.stringify(ks), 'hunter2'), KEY)
  })

  test('output is standard: an independent scrypt/AES implementation opens it', async () => {
    const ks = await encryptKeystore(KEY, 'pässwörd', FAST)
    assert.equal(ks.crypto.kdf, 'scrypt')
    const kp = ks.crypto.kdfparams as { n: number; r: number; p: number; salt: string }
    const dk = scryptSync(Buffer.from('pässwörd', 'utf8'), Buffer.from(kp.salt, 'hex'), 32, {
      N: kp.n,
      r: kp.r,
      p: kp.p,
    })
    const ct = Buffer.from(ks.crypto.ciphertext, 'hex')
    const mac = Buffer.from(keccak_256(Buffer.concat([dk.subarray(16, 32), ct]))).toString('hex')
    assert.equal(mac, ks.crypto.mac)
    const d = createDecipheriv(
      'aes-128-ctr',
      dk.subarray(0, 16),
      Buffer.from(ks.crypto.cipherparams.iv, 'hex'),
    )
    assert.equal(`0x${Buffer.concat([d.update(ct), d.final()]).toString('hex')}`, KEY)
  })

  test('fresh salt, iv and id on every call', async () => {
    const a = await encryptKeystore(KEY, 'pw', FAST)
    const b = await encryptKeystore(KEY, 'pw', FAST)
    assert.notEqual(a.id, b.id)
    assert.notEqual(a.crypto.cipherparams.iv, b.crypto.cipherparams.iv)
    assert.notEqual(a.crypto.ciphertext, b.crypto.ciphertext)
  })

  test('non-NFKC password: raw UTF-8 (geth) and NFKC (ethers) files both open', async () => {
    const raw = '\u212B' // U+212B ANGSTROM SIGN, NFKC-normalizes to U+00C5
    const nfkc = raw.normalize('NFKC')
    assert.notEqual(raw, nfkc)
    const gethStyle = await encryptKeystore(KEY, raw, FAST)
    const ethersStyle = await encryptKeystore(KEY, nfkc, FAST)
    assert.equal(await decryptKeystore(gethStyle, raw), KEY)
    assert.equal(await decryptKeystore(ethersStyle, raw), KEY)
  })

  test('wrong password rejected, nothing leaks', async () => {
    const ks = await encryptKeystore(KEY, 'correct-horse', FAST)
    await rejectsWith(
      decryptKeystore(ks, 'battery-staple'),
      /^wrong password or corrupted keystore$/,
      ['battery-staple', 'correct-horse', KEY.slice(2)],
    )
  })

  test('tampered ciphertext, mac or salt rejected', async () => {
    const ks = await encryptKeystore(KEY, 'pw', FAST)
    const flip = (h: string) => (h[0] === '0' ? '1' : '0') + h.slice(1)

    const ct = clone(ks)
    ct.crypto.ciphertext = flip(ct.crypto.ciphertext)
    await rejectsWith(decryptKeystore(ct, 'pw'), /wrong password or corrupted keystore/)

    const mac = clone(ks)
    mac.crypto.mac = flip(mac.crypto.mac)
    await rejectsWith(decryptKeystore(mac, 'pw'), /wrong password or corrupted keystore/)

    const salt = clone(ks)
    ;(salt.crypto.kdfparams as { salt: string }).salt = flip(ks.crypto.kdfparams.salt)
    await rejectsWith(decryptKeystore(salt, 'pw'), /wrong password or corrupted keystore/)
  })

  test('address mismatch rejected; missing address and 0x-prefixed fields accepted', async () => {
    const ks = await encryptKeystore(KEY, 'pw', FAST)
    const wrong = clone(ks)
    wrong.address = '00'.repeat(20)
    await rejectsWith(decryptKeystore(wrong, 'pw'), /address does not match/, [KEY.slice(2)])

    const noAddr: Partial<KeystoreV3> = clone(ks)
    delete noAddr.address
    assert.equal(await decryptKeystore(noAddr, 'pw'), KEY)

    const prefixed = clone(ks)
    prefixed.address = `0x${ks.address?.toUpperCase()}`
    prefixed.crypto.mac = `0x${ks.crypto.mac}`
    prefixed.crypto.ciphertext = `0x${ks.crypto.ciphertext}`
    assert.equal(await decryptKeystore(prefixed, 'pw'), KEY)
  })

  test('legacy "Crypto" key accepted', async () => {
    const ks = await encryptKeystore(KEY, 'pw', FAST)
    const { crypto, ...rest } = ks
    assert.equal(await decryptKeystore({ ...rest, Crypto: crypto }, 'pw'), KEY)
  })

  test('encrypt validates its inputs without echoing the key', async () => {
    const zero = `0x${'00'.repeat(32)}` as const
    const order = '0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141' as const
    await rejectsWith(encryptKeystore(zero, 'pw', FAST), /not a valid secp256k1 private key/)
    await rejectsWith(encryptKeystore(order, 'pw', FAST), /not a valid secp256k1 private key/, [
      order.slice(2),
    ])
    await rejectsWith(encryptKeystore('0x1234', 'pw', FAST), /64 hex digits/, ['1234'])
    await rejectsWith(
      encryptKeystore(KEY, 'pw', { scryptN: 1000 }),
      /options\.scryptN must be a power of two > 1/,
    )
    await rejectsWith(
      encryptKeystore(KEY, 'pw', { ...FAST, scryptP: 17 }),
      /options\.scryptP must be at most 16/,
    )
    await rejectsWith(
      encryptKeystore(KEY, 'pw', { ...FAST, iv: new Uint8Array(8) }),
      /options\.iv must be a Uint8Array of 16 bytes/,
    )
    await rejectsWith(
      encryptKeystore(KEY, 'pw', { ...FAST, salt: new Uint8Array(4) }),
      /options\.salt/,
    )
    await rejectsWith(encryptKeystore(KEY, 'pw', { ...FAST, uuid: 'nope' }), /options\.uuid/)
  })
})

const DELETE = Symbol('delete')

/** A deep copy of `json` with the fields at the given dotted paths set (or deleted). */
function withFields(json: unknown, fields: Record<string, unknown>): unknown {
  const copy = structuredClone(json)
  for (const [path, value] of Object.entries(fields)) {
    const keys = path.split('.')
    const last = keys.pop() as string
    let obj = copy as Record<string, unknown>
    for (const k of keys) obj = obj[k] as Record<string, unknown>
    if (value === DELETE) delete obj[last]
    else obj[last] = value
  }
  return copy
}

describe('shape validation', () => {
  let base: KeystoreV3
  before(async () => {
    base = await encryptKeystore(KEY, 'pw', FAST)
  })

  const cases: [string, unknown, RegExp][] = [
    ['version', 2, /version must be 3/],
    ['version', '3', /version must be 3/],
    ['crypto', DELETE, /crypto must be an object/],
    ['id', 5, /id must be a string/],
    ['address', 'zz'.repeat(20), /address must be 20 bytes/],
    ['crypto.cipher', 'aes-256-gcm', /crypto\.cipher is unsupported/],
    ['crypto.kdf', 'argon2', /crypto\.kdf is unsupported/],
    ['crypto.cipherparams.iv', 'xyz', /crypto\.cipherparams\.iv must be a hex string/],
    ['crypto.cipherparams.iv', 'abcd', /crypto\.cipherparams\.iv must be 16 bytes/],
    ['crypto.cipherparams', DELETE, /crypto\.cipherparams must be an object/],
    ['crypto.ciphertext', 'abc', /crypto\.ciphertext must be a hex string/],
    ['crypto.ciphertext', 'ab'.repeat(31), /crypto\.ciphertext must be 32 bytes/],
    ['crypto.mac', 42, /crypto\.mac must be a hex string/],
    ['crypto.mac', 'ab', /crypto\.mac must be 32 bytes/],
    ['crypto.kdfparams', DELETE, /crypto\.kdfparams must be an object/],
    ['crypto.kdfparams.salt', 'g0', /crypto\.kdfparams\.salt must be a hex string/],
    ['crypto.kdfparams.dklen', 16, /crypto\.kdfparams\.dklen must be 32/],
    ['crypto.kdfparams.n', 1000, /crypto\.kdfparams\.n must be a power of two > 1/],
    ['crypto.kdfparams.n', 1, /crypto\.kdfparams\.n must be a power of two > 1/],
    ['crypto.kdfparams.n', '1024', /crypto\.kdfparams\.n must be a power of two > 1/],
    ['crypto.kdfparams.r', 0, /crypto\.kdfparams\.r must be a positive integer/],
    ['crypto.kdfparams.p', 1.5, /crypto\.kdfparams\.p must be a positive integer/],
  ]
  for (const [path, value, re] of cases) {
    const label = value === DELETE ? 'missing' : JSON.stringify(value)
    test(`rejects ${path} = ${label}`, async () => {
      await rejectsWith(decryptKeystore(withFields(base, { [path]: value }), 'pw'), re)
    })
  }

  test('rejects non-objects and bad JSON without quoting the input', async () => {
    await rejectsWith(decryptKeystore(null, 'pw'), /must be a JSON object/)
    await rejectsWith(decryptKeystore([], 'pw'), /must be a JSON object/)
    await rejectsWith(decryptKeystore(KEY, 'pw'), /not valid JSON/, [KEY.slice(2)])
  })

  test('pbkdf2 prf and c validated', async () => {
    const prf = withFields(PBKDF2_VECTOR, { 'crypto.kdfparams.prf': 'hmac-sha512' })
    await rejectsWith(decryptKeystore(prf, 'testpassword'), /crypto\.kdfparams\.prf is unsupported/)
    const c0 = withFields(PBKDF2_VECTOR, { 'crypto.kdfparams.c': 0 })
    await rejectsWith(
      decryptKeystore(c0, 'testpassword'),
      /crypto\.kdfparams\.c must be a positive integer/,
    )
  })
})

describe('resource limits', () => {
  // Each of these would take seconds and gigabytes if the check came after the KDF started.
  test('scrypt memory n*r*128 > 1 GiB rejected before any work', async () => {
    const big = (n: number, r: number) =>
      withFields(SCRYPT_VECTOR, { 'crypto.kdfparams.n': n, 'crypto.kdfparams.r': r })
    await rejectsWith(decryptKeystore(big(2 ** 24, 1), 'testpassword'), /at most 1 GiB/)
    await rejectsWith(decryptKeystore(big(2 ** 20, 9), 'testpassword'), /at most 1 GiB/)
    await rejectsWith(decryptKeystore(big(2 ** 40, 1), 'testpassword'), /crypto\.kdfparams\.n/)
    await rejectsWith(
      encryptKeystore(KEY, 'pw', { scryptN: 2 ** 18, scryptR: 64 }),
      /at most 1 GiB/,
    )
  })

  test('scrypt p > 16 rejected', async () => {
    const ks = withFields(SCRYPT_VECTOR, { 'crypto.kdfparams.p': 17 })
    await rejectsWith(
      decryptKeystore(ks, 'testpassword'),
      /crypto\.kdfparams\.p must be at most 16/,
    )
  })

  test('pbkdf2 c > 10_000_000 rejected', async () => {
    const ks = withFields(PBKDF2_VECTOR, { 'crypto.kdfparams.c': 10_000_001 })
    await rejectsWith(
      decryptKeystore(ks, 'testpassword'),
      /crypto\.kdfparams\.c must be at most 10000000/,
    )
  })
})

describe('files', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keystore-test-'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  async function file(name: string, content: string): Promise<string> {
    const path = join(dir, name)
    await writeFile(path, content)
    return path
  }

  test('readPrivateKeyFile accepts 0x / bare / whitespace', async () => {
    assert.equal(await readPrivateKeyFile(await file('a', `${KEY}\n`)), KEY)
    assert.equal(
      await readPrivateKeyFile(await file('b', `  ${KEY.slice(2).toUpperCase()}  \r\n`)),
      KEY,
    )
    assert.equal(await readPrivateKeyFile(await file('c', `0X${KEY.slice(2)}`)), KEY)
  })

  test('readPrivateKeyFile rejects bad files, naming the file, never the content', async () => {
    const bad: [string, string, RegExp][] = [
      ['short', KEY.slice(0, 40), /does not hold a 32-byte hex private key/],
      ['long', `${KEY}ab`, /does not hold a 32-byte hex private key/],
      ['nonhex', `0x${'zq'.repeat(32)}`, /does not hold a 32-byte hex private key/],
      ['two', `${KEY}\n${KEY}\n`, /does not hold a 32-byte hex private key/],
      ['zero', `0x${'00'.repeat(32)}`, /invalid secp256k1 private key/],
      [
        'order',
        '0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141',
        /invalid secp256k1 private key/,
      ],
      ['empty', '', /does not hold a 32-byte hex private key/],
      ['huge', `${KEY}${' '.repeat(10_000)}`, /too large/],
    ]
    for (const [name, content, re] of bad) {
      const path = await file(`bad-${name}`, content)
      const secret = content.trim().replace(/^0x/i, '')
      await rejectsWith(readPrivateKeyFile(path), re, secret ? [secret, secret.slice(0, 16)] : [])
      await assert.rejects(readPrivateKeyFile(path), (err: Error) => err.message.includes(path))
    }
    await rejectsWith(
      readPrivateKeyFile(join(dir, 'missing')),
      /cannot read private key file .*missing/,
    )
  })

  test('readKeystoreFile decrypts and names the file on failure', async () => {
    const ks = await encryptKeystore(KEY, 'pw', FAST)
    const path = await file('ks.json', JSON.stringify(ks))
    assert.equal(await readKeystoreFile(path, 'pw'), KEY)
    await rejectsWith(
      readKeystoreFile(path, 'nope'),
      /ks\.json: wrong password or corrupted keystore/,
      ['nope', KEY.slice(2)],
    )
    const raw = await file('raw.json', KEY)
    await rejectsWith(readKeystoreFile(raw, 'pw'), /raw\.json: keystore is not valid JSON/, [
      KEY.slice(2),
    ])
  })

  test('readPassword: file wins over env, trailing newline stripped', async () => {
    const pf = await file('pw.txt', 's3cret \n')
    const env = { ORAKEL_KEYSTORE_PASSWORD: 'from-env', OTHER: 'other-env' }
    assert.equal(await readPassword({ passwordFile: pf, env }), 's3cret ')
    assert.equal(await readPassword({ passwordFile: await file('pw2.txt', 'x\r\n'), env }), 'x')
    assert.equal(await readPassword({ env }), 'from-env')
    assert.equal(await readPassword({ env, envName: 'OTHER' }), 'other-env')
    await rejectsWith(readPassword({ env: {} }), /no keystore password/)
    await rejectsWith(
      readPassword({ env: { ORAKEL_KEYSTORE_PASSWORD: '' } }),
      /no keystore password/,
    )
    await rejectsWith(readPassword({ env, envName: 'UNSET' }), /UNSET/)
    await rejectsWith(
      readPassword({ passwordFile: join(dir, 'nope.txt'), env }),
      /cannot read password file/,
    )
  })
})
