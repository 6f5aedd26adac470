import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ConfigError } from '../config/config.ts'
import { parseAdapterText } from './config.ts'
import {
  checkRequestHeaders,
  credentialFor,
  expandCredentials,
  SecretsFileSchema,
} from './credentials.ts'
import { AdapterError } from './errors.ts'

const SECRETS = `
[[credentials]]
url = "https://api.example.com/"
headers = { "X-Api-Key" = "\${EXAMPLE_KEY}" }

[[credentials]]
url = "https://api.example.com/v2/private/"
headers = { Authorization = "Bearer \${PRIVATE_TOKEN}" }
query = { apikey = "fixed-\${EXAMPLE_KEY}" }
`

describe('adapter credentials', () => {
  it('reads a secrets file and expands environment references', () => {
    const { credentials } = parseAdapterText(SECRETS, 'secrets.toml', SecretsFileSchema, {
      secret: true,
    })
    const list = expandCredentials(
      credentials,
      { EXAMPLE_KEY: 'k1', PRIVATE_TOKEN: 't2' },
      'secrets.toml',
    )
    assert.deepEqual(list, [
      { url: 'https://api.example.com/', headers: { 'X-Api-Key': 'k1' }, query: {} },
      {
        url: 'https://api.example.com/v2/private/',
        headers: { Authorization: 'Bearer t2' },
        query: { apikey: 'fixed-k1' },
      },
    ])
  })

  it('names a missing environment variable without quoting any value', () => {
    const { credentials } = parseAdapterText(SECRETS, 'secrets.toml', SecretsFileSchema, {
      secret: true,
    })
    assert.throws(
      () => expandCredentials(credentials, { EXAMPLE_KEY: 'k1' }, 'secrets.toml'),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.metaMessages!.join('\n') ===
          'secrets.toml:credentials[1].headers.Authorization: environment variable PRIVATE_TOKEN is not set',
    )
  })

  it('refuses malformed entries, naming them, and never quotes a secrets file', () => {
    assert.throws(
      () =>
        parseAdapterText(
          '[[credentials]]\nurl = "ftp://x"\nheaders = { "bad header" = "v" }\ntoken = "s3cret"\n',
          'secrets.toml',
          SecretsFileSchema,
          { secret: true },
        ),
      (err: unknown) => {
        const text = (err as ConfigError).metaMessages!.join('\n')
        assert.match(text, /credentials\[0\]\.url: expected an http\(s\) URL prefix/)
        assert.match(text, /credentials\[0\]\.headers\.bad header: not a valid header name/)
        assert.match(text, /credentials\[0\]\.token: unknown key/)
        assert.ok(!text.includes('s3cret'))
        return true
      },
    )
    assert.throws(
      () =>
        parseAdapterText('[[credentials]\nx = "s3cret"', 'secrets.toml', SecretsFileSchema, {
          secret: true,
        }),
      (err: unknown) =>
        !(err as Error).message.includes('s3cret') && /invalid TOML/.test((err as Error).message),
    )
  })

  it('matches by origin and the longest path prefix', () => {
    const list = expandCredentials(
      parseAdapterText(SECRETS, 's.toml', SecretsFileSchema).credentials,
      { EXAMPLE_KEY: 'k', PRIVATE_TOKEN: 't' },
      's.toml',
    )
    const at = (url: string) => credentialFor(list, new URL(url))?.url
    assert.equal(at('https://api.example.com/v1/ticker'), 'https://api.example.com/')
    assert.equal(
      at('https://api.example.com/v2/private/x?y=1'),
      'https://api.example.com/v2/private/',
    )
    assert.equal(at('https://api.example.com/v2/privateer'), 'https://api.example.com/')
    assert.equal(at('http://api.example.com/v1'), undefined, 'another scheme')
    assert.equal(at('https://api.example.com:8443/v1'), undefined, 'another port')
    assert.equal(at('https://api.example.com.evil.test/'), undefined, 'another host')
  })

  it('refuses credential headers from a request, naming them', () => {
    assert.deepEqual(checkRequestHeaders({ Accept: 'text/plain', 'X-Trace': '1' }), {
      Accept: 'text/plain',
      'X-Trace': '1',
    })
    assert.deepEqual(checkRequestHeaders(undefined), {})
    for (const name of [
      'Authorization',
      'cookie',
      'X-Api-Key',
      'X-Auth-Token',
      'x-session-id',
      'X-MBX-APIKEY',
      'Proxy-Authorization',
    ]) {
      assert.throws(
        () => checkRequestHeaders({ [name]: 'v' }),
        (err: unknown) =>
          err instanceof AdapterError &&
          err.statusCode === 400 &&
          err.shortMessage ===
            `data.headers.${name}: credentials may not come from the request; the adapter adds them from its secrets`,
        name,
      )
    }
    assert.throws(
      () => checkRequestHeaders({ 'X-A': 'a\r\nX-B: b' }),
      /data\.headers\.X-A: must be a single-line string/,
    )
    assert.throws(() => checkRequestHeaders({ 'bad name': 'v' }), /not a valid header name/)
  })
})
