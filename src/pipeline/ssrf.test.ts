import assert from 'node:assert/strict'
import type { LookupAddress } from 'node:dns'
import { describe, it } from 'node:test'
import {
  checkAddress,
  checkHost,
  createGuardedLookup,
  type GuardedLookup,
  isLocalhostName,
  SsrfError,
} from './ssrf.ts'

describe('checkAddress', () => {
  const refused: Array<[string, RegExp]> = [
    ['127.0.0.1', /loopback/],
    ['127.255.1.2', /loopback/],
    ['0.0.0.0', /unspecified/],
    ['0.1.2.3', /unspecified/],
    ['10.0.0.1', /private/],
    ['172.16.0.1', /private/],
    ['172.31.255.255', /private/],
    ['192.168.1.1', /private/],
    ['100.64.0.1', /carrier-grade/],
    ['100.127.255.255', /carrier-grade/],
    ['169.254.1.1', /link-local/],
    ['169.254.169.254', /metadata/],
    ['224.0.0.1', /multicast/],
    ['239.255.255.250', /multicast/],
    ['255.255.255.255', /broadcast/],
    ['240.0.0.1', /reserved/],
    ['198.18.0.1', /benchmark/],
    ['198.19.255.255', /benchmark/],
    ['192.0.2.1', /documentation/],
    ['::1', /loopback/],
    ['::', /unspecified/],
    ['[::1]', /loopback/],
    ['fe80::1', /link-local/],
    ['fe80::1%eth0', /link-local/],
    ['febf::1', /link-local/],
    ['fc00::1', /unique-local/],
    ['fdff::1', /unique-local/],
    ['fd00:ec2::254', /metadata/],
    ['ff02::1', /multicast/],
    ['::ffff:10.0.0.1', /private/],
    ['::ffff:127.0.0.1', /loopback/],
    ['::ffff:7f00:1', /loopback/],
    ['::ffff:a9fe:a9fe', /metadata/],
    ['0:0:0:0:0:ffff:c0a8:0101', /private/],
    ['::127.0.0.1', /loopback/],
    ['64:ff9b::a00:1', /private/],
    ['2002:7f00:1::', /loopback/],
    ['2001:db8::1', /documentation/],
    ['localhost', /not an IP/],
    ['', /not an IP/],
    ['1.2.3', /not an IP/],
  ]
  for (const [ip, reason] of refused) {
    it(`refuses ${ip || '(empty)'}`, () => {
      const got = checkAddress(ip)
      assert.ok(got, `${ip} should be refused`)
      assert.match(got, reason)
    })
  }

  const allowed = [
    '1.1.1.1',
    '8.8.8.8',
    '9.255.255.255',
    '11.0.0.0',
    '100.63.255.255',
    '100.128.0.0',
    '172.15.255.255',
    '172.32.0.0',
    '192.167.255.255',
    '192.169.0.0',
    '198.17.255.255',
    '198.20.0.0',
    '223.255.255.255',
    '2606:4700:4700::1111',
    '2001:4860:4860::8888',
    '::ffff:8.8.8.8',
    '::ffff:808:808',
    'fe7f::1',
    'fbff::1',
  ]
  for (const ip of allowed) {
    it(`allows ${ip}`, () => assert.equal(checkAddress(ip), undefined))
  }
})

describe('host names', () => {
  it('refuses localhost and *.localhost by name', () => {
    for (const h of ['localhost', 'LOCALHOST', 'localhost.', 'a.localhost', 'x.y.localhost.']) {
      assert.ok(isLocalhostName(h), h)
      assert.ok(checkHost(h) instanceof SsrfError, h)
    }
    for (const h of ['localhost.example.com', 'mylocalhost', 'example.com']) {
      assert.equal(isLocalhostName(h), false, h)
      assert.equal(checkHost(h), undefined, h)
    }
  })

  it('WHATWG URL normalises numeric IPv4 spellings, so checking url.hostname suffices', () => {
    const cases: Array<[string, string]> = [
      ['0x7f000001', '127.0.0.1'],
      ['2130706433', '127.0.0.1'],
      ['0177.0.0.1', '127.0.0.1'],
      ['127.1', '127.0.0.1'],
      ['0x7f.1', '127.0.0.1'],
      ['127.0.0.1.', '127.0.0.1'],
      ['0xa9fea9fe', '169.254.169.254'],
      ['[::ffff:10.0.0.1]', '[::ffff:a00:1]'],
      ['[0:0:0:0:0:0:0:1]', '[::1]'],
    ]
    for (const [spelling, normal] of cases) {
      const host = new URL(`http://${spelling}/`).hostname
      assert.equal(host, normal, spelling)
      assert.ok(checkHost(host) instanceof SsrfError, spelling)
    }
  })

  it('checks IP literals in brackets', () => {
    const err = checkHost('[::1]')
    assert.ok(err instanceof SsrfError)
    assert.match(err.message, /loopback/)
    assert.equal(err.retryable, false)
  })

  it('lets allowAddress make exceptions', () => {
    assert.equal(
      checkHost('127.0.0.1', (ip) => ip === '127.0.0.1'),
      undefined,
    )
  })
})

type LookupAnswer = {
  err: NodeJS.ErrnoException | null
  address: string | LookupAddress[]
  family?: number
}

function lookup(fn: GuardedLookup, host: string, options: { all?: boolean; family?: number } = {}) {
  return new Promise<LookupAnswer>((resolve) =>
    fn(host, options, (err, address, family) => resolve({ err, address, family })),
  )
}

describe('guardedLookup', () => {
  const names: Record<string, string[]> = {
    'public.test': ['93.184.216.34', '2606:2800:220:1::1'],
    'private.test': ['10.0.0.5'],
    'mixed.test': ['93.184.216.34', '192.168.0.10'],
    'rebind.test': ['::ffff:127.0.0.1'],
  }
  let calls = 0
  const resolve = async (host: string) => {
    calls++
    const found = names[host]
    if (!found)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' })
    return found
  }
  const guarded = createGuardedLookup({ resolve })

  it('answers with all checked addresses (all: true)', async () => {
    const got = await lookup(guarded, 'public.test', { all: true })
    assert.equal(got.err, null)
    assert.deepEqual(got.address, [
      { address: '93.184.216.34', family: 4 },
      { address: '2606:2800:220:1::1', family: 6 },
    ])
  })

  it('answers with one address when all is not set, honouring family', async () => {
    const got = await lookup(guarded, 'public.test', { family: 6 })
    assert.equal(got.err, null)
    assert.equal(got.address, '2606:2800:220:1::1')
    assert.equal(got.family, 6)
  })

  it('refuses a name resolving to a private address', async () => {
    const got = await lookup(guarded, 'private.test', { all: true })
    assert.ok(got.err instanceof SsrfError)
    assert.match(got.err.message, /private\.test \(10\.0\.0\.5\): private address/)
  })

  it('refuses when ANY resolved address is refused', async () => {
    const got = await lookup(guarded, 'mixed.test', { all: true })
    assert.ok(got.err instanceof SsrfError)
    assert.match(got.err.message, /192\.168\.0\.10/)
  })

  it('refuses an IPv4-mapped loopback answer', async () => {
    const got = await lookup(guarded, 'rebind.test', { all: true })
    assert.ok(got.err instanceof SsrfError)
    assert.match(got.err.message, /loopback/)
  })

  it('refuses localhost by name without resolving', async () => {
    const before = calls
    const got = await lookup(guarded, 'localhost', { all: true })
    assert.ok(got.err instanceof SsrfError)
    assert.equal(calls, before)
  })

  it('refuses IP literals without resolving', async () => {
    const before = calls
    const got = await lookup(guarded, '169.254.169.254', { all: true })
    assert.ok(got.err instanceof SsrfError)
    assert.match(got.err.message, /metadata/)
    assert.equal(calls, before)
  })

  it('passes resolver errors through', async () => {
    const got = await lookup(guarded, 'nowhere.test', { all: true })
    assert.ok(got.err)
    assert.equal(got.err.code, 'ENOTFOUND')
  })

  it('does not check when check is false', async () => {
    const open = createGuardedLookup({ resolve, check: false })
    const got = await lookup(open, 'private.test', {})
    assert.equal(got.err, null)
    assert.equal(got.address, '10.0.0.5')
  })

  it('honours allowAddress for a given name only', async () => {
    const g = createGuardedLookup({
      resolve,
      allowAddress: (ip, host) => host === 'private.test' && ip === '10.0.0.5',
    })
    assert.equal((await lookup(g, 'private.test', {})).err, null)
    assert.ok((await lookup(g, 'mixed.test', {})).err instanceof SsrfError)
  })
})
