import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { parse as parseToml } from 'smol-toml'
import { BaseError } from '../errors.ts'
import {
  ConfigError,
  databaseParams,
  defaultConfig,
  loadConfig,
  type NodeConfig,
  parseConfig,
  redactConfig,
  redactUrl,
  renderConfig,
} from './config.ts'

const NO_ENV = {}

/** The issues `parseConfig` reports, formatted `file:path: message`. */
function issuesOf(params: Parameters<typeof parseConfig>[0]): string[] {
  try {
    parseConfig({ env: NO_ENV, ...params })
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err))
    assert.ok(err instanceof BaseError)
    return err.metaMessages ?? []
  }
  assert.fail('expected a ConfigError')
}

const EXPECTED_DEFAULTS: NodeConfig = {
  node: { dataDir: '.orakel' },
  chain: {
    id: 31337,
    rpcUrls: ['http://127.0.0.1:8545'],
    pollIntervalMs: 500,
    finalityDepth: 50,
    maxLagBlocks: 5,
  },
  database: { url: '' },
  http: { host: '127.0.0.1', port: 6688 },
  p2p: { listen: '/ip4/127.0.0.1/tcp/6690', announce: [] },
  log: { level: 'info' },
  txm: {
    feeCapGwei: 500,
    bumpAfterBlocks: 3,
    bumpPercent: 20,
    confirmations: 1,
    defaultGasLimit: 500000,
    maxInFlight: 64,
  },
  jobs: { maxTaskDurationMs: 30000, minIncomingConfirmations: 0 },
  security: { allowUnrestrictedNetworkAccess: false },
  api: { loginRateLimitPerMinute: 5, sessionTtlHours: 24, adminPassword: undefined },
  keystore: { password: undefined },
}

describe('parseConfig', () => {
  test('an empty file, no file and defaultConfig() all give the defaults', () => {
    assert.deepEqual(parseConfig({ configText: '', env: NO_ENV }), EXPECTED_DEFAULTS)
    assert.deepEqual(parseConfig({ env: NO_ENV }), EXPECTED_DEFAULTS)
    assert.deepEqual(defaultConfig(), EXPECTED_DEFAULTS)
    // Fresh objects: changing one does not change the next.
    defaultConfig().chain.rpcUrls.push('http://x')
    assert.deepEqual(defaultConfig().chain.rpcUrls, ['http://127.0.0.1:8545'])
  })

  test('values from the file override the defaults section by section', () => {
    const config = parseConfig({
      env: NO_ENV,
      configText: `
[node]
dataDir = "/var/lib/orakel"
[chain]
id = 1
rpcUrls = ["https://rpc.example", "http://backup.example:8545/v1"]
[http]
port = 0
[log]
level = "debug"
[txm]
feeCapGwei = 0.5
[security]
allowUnrestrictedNetworkAccess = true
`,
    })
    assert.equal(config.node.dataDir, '/var/lib/orakel')
    assert.deepEqual(config.chain, {
      ...EXPECTED_DEFAULTS.chain,
      id: 1,
      rpcUrls: ['https://rpc.example', 'http://backup.example:8545/v1'],
    })
    assert.deepEqual(config.http, { host: '127.0.0.1', port: 0 })
    assert.equal(config.log.level, 'debug')
    assert.equal(config.txm.feeCapGwei, 0.5)
    assert.equal(config.txm.bumpPercent, 20)
    assert.equal(config.security.allowUnrestrictedNetworkAccess, true)
  })

  test('bad TOML names the file, line and column', () => {
    const [issue, ...rest] = issuesOf({
      configText: '[chain]\nid = 1\nrpcUrls = [\n',
      configName: 'node.toml',
    })
    assert.equal(rest.length, 0)
    assert.match(issue!, /^node\.toml: invalid TOML at line \d+, column \d+: /)
    assert.deepEqual(issuesOf({ configText: '[chain]\n[chain]\n' }).length, 1)
  })

  test('bad TOML in the secrets file never quotes the file', () => {
    const issues = issuesOf({ secretsText: '[keystore]\npassword = "hunter2-secret\n' })
    assert.equal(issues.length, 1)
    assert.match(issues[0]!, /^secrets: invalid TOML at line 2/)
    assert.ok(!issues.join('\n').includes('hunter2'))
  })

  test('unknown keys are named by their full path, with a suggestion', () => {
    const issues = issuesOf({
      configName: 'node.toml',
      configText: `
foo = 1
[chain]
rpcUrl = "http://x"
[http]
prot = 1
[database]
url = ""
user = "x"
[extra]
a = 1
`,
    })
    assert.deepEqual(issues.sort(), [
      'node.toml:chain.rpcUrl: unknown key (did you mean rpcUrls?)',
      'node.toml:database.user: unknown key',
      'node.toml:extra: unknown key',
      'node.toml:foo: unknown key',
      'node.toml:http.prot: unknown key (did you mean port?)',
    ])
  })

  test('bad values name the path and what is expected', () => {
    const issues = issuesOf({
      configName: 'node.toml',
      configText: `
[node]
dataDir = ""
[chain]
id = "mainnet"
rpcUrls = ["http://ok", "wss://not.yet"]
pollIntervalMs = 1.5
[log]
level = "verbose"
[txm]
bumpPercent = 5
feeCapGwei = -1
maxInFlight = 0
[security]
allowUnrestrictedNetworkAccess = "yes"
[api]
sessionTtlHours = 1979-05-27
`,
    })
    const expected = [
      'node.toml:node.dataDir: expected a non-empty string, got ""',
      'node.toml:chain.id: expected an integer from 1 to 9007199254740991, got "mainnet"',
      'node.toml:chain.rpcUrls[1]: expected an http(s):// URL (WebSocket URLs are not supported)',
      'node.toml:chain.pollIntervalMs: expected an integer from 10 to 3600000, got 1.5',
      'node.toml:log.level: expected one of trace, debug, info, warn, error, fatal, silent, got "verbose"',
      'node.toml:txm.feeCapGwei: expected a number above 0 and at most 1000000, got -1',
      'node.toml:txm.bumpPercent: expected an integer from 10 to 1000 (nodes reject replacements bumped by less than 10%), got 5',
      'node.toml:txm.maxInFlight: expected an integer from 1 to 100000, got 0',
      'node.toml:security.allowUnrestrictedNetworkAccess: expected true or false, got "yes"',
      'node.toml:api.sessionTtlHours: expected an integer from 1 to 8760, got a date',
    ]
    assert.deepEqual(issues.sort(), expected.sort())
  })

  test('ports out of range are rejected; 0 means a free port', () => {
    for (const port of ['-1', '65536', '70000', '6688.5', '"6688"']) {
      const issues = issuesOf({ configText: `[http]\nport = ${port}` })
      assert.equal(issues.length, 1, port)
      assert.match(issues[0]!, /^config:http\.port: expected an integer from 0 to 65535/)
    }
    assert.equal(parseConfig({ configText: '[http]\nport = 65535', env: NO_ENV }).http.port, 65535)
    assert.equal(parseConfig({ configText: '[http]\nport = 0', env: NO_ENV }).http.port, 0)
  })

  test('an empty rpcUrls list and a section that is not a table are rejected', () => {
    assert.deepEqual(issuesOf({ configText: '[chain]\nrpcUrls = []' }), [
      'config:chain.rpcUrls: expected at least one URL',
    ])
    assert.equal(issuesOf({ configText: 'chain = 5' }).length, 1)
  })

  test('a secret in the config file is an error that says where it belongs', () => {
    const issues = issuesOf({
      configName: 'node.toml',
      configText: `
[keystore]
password = "hunter2-secret"
[api]
adminPassword = "admin-secret"
sessionTtlHours = 2
`,
    })
    assert.deepEqual(issues, [
      'node.toml:keystore.password: is a secret: move it to the secrets file (or set ORAKEL_KEYSTORE_PASSWORD)',
      'node.toml:api.adminPassword: is a secret: move it to the secrets file (or set ORAKEL_API_PASSWORD)',
    ])
    assert.ok(!issues.join('\n').includes('secret"'))
    // Other keys beside the secret are still checked.
    assert.deepEqual(issuesOf({ configText: '[keystore]\npassword = "x"\nfoo = 1' }), [
      'config:keystore.password: is a secret: move it to the secrets file (or set ORAKEL_KEYSTORE_PASSWORD)',
      'config:keystore: unknown key',
    ])
  })

  test('the secrets file holds only secrets', () => {
    const issues = issuesOf({
      secretsName: 's.toml',
      secretsText: `
[chain]
id = 5
[api]
sessionTtlHours = 1
adminPasword = "x"
[keystore]
password = ""
`,
    })
    assert.deepEqual(issues.sort(), [
      's.toml:api.adminPasword: unknown key (did you mean adminPassword?)',
      's.toml:api.sessionTtlHours: unknown key: not a secret; it belongs in the config file (the secrets file holds only database.url, keystore.password and api.adminPassword)',
      's.toml:chain: unknown key: not a secret; it belongs in the config file (the secrets file holds only database.url, keystore.password and api.adminPassword)',
      's.toml:keystore.password: expected a non-empty string',
    ])
  })

  test('a bad database URL is reported without its value', () => {
    const secret = 'mysql://root:db-secret@host/db'
    const issues = [
      ...issuesOf({ secretsText: `[database]\nurl = "${secret}"` }),
      ...issuesOf({ configText: `[database]\nurl = "${secret}"` }),
      ...issuesOf({ env: { DATABASE_URL: secret } }),
    ]
    assert.deepEqual(issues, [
      'secrets:database.url: expected a postgres:// or postgresql:// URL (or "" for the embedded database)',
      'config:database.url: expected a postgres:// or postgresql:// URL (or "" for the embedded database)',
      'env:DATABASE_URL: expected a postgres:// or postgresql:// URL',
    ])
    assert.ok(!issues.join('\n').includes('db-secret'))
  })

  test('issues from the config file, secrets file and environment are reported together', () => {
    const issues = issuesOf({
      configText: '[http]\nport = 99999',
      secretsText: 'x = 1',
      env: { DATABASE_URL: 'nope' },
    })
    assert.equal(issues.length, 3)
  })

  test('secrets come from the secrets file, overridden by the environment', () => {
    const configText = '[database]\nurl = "postgres://cfg@host/db"'
    const secretsText = `
[database]
url = "postgres://u:file-pw@host/db"
[keystore]
password = "file-keystore-pw"
[api]
adminPassword = "file-admin-pw"
`
    const fromConfig = parseConfig({ configText, env: NO_ENV })
    assert.equal(fromConfig.database.url, 'postgres://cfg@host/db')
    assert.equal(fromConfig.keystore.password, undefined)

    const fromFile = parseConfig({ configText, secretsText, env: NO_ENV })
    assert.equal(fromFile.database.url, 'postgres://u:file-pw@host/db')
    assert.equal(fromFile.keystore.password, 'file-keystore-pw')
    assert.equal(fromFile.api.adminPassword, 'file-admin-pw')
    assert.equal(fromFile.api.sessionTtlHours, 24)

    const fromEnv = parseConfig({
      configText,
      secretsText,
      env: {
        DATABASE_URL: 'postgresql://u:env-pw@host:5433/db',
        ORAKEL_KEYSTORE_PASSWORD: 'env-keystore-pw',
        ORAKEL_API_PASSWORD: 'env-admin-pw',
      },
    })
    assert.equal(fromEnv.database.url, 'postgresql://u:env-pw@host:5433/db')
    assert.equal(fromEnv.keystore.password, 'env-keystore-pw')
    assert.equal(fromEnv.api.adminPassword, 'env-admin-pw')

    // An empty variable counts as unset.
    const emptyEnv = parseConfig({
      secretsText,
      env: { DATABASE_URL: '', ORAKEL_KEYSTORE_PASSWORD: '', ORAKEL_API_PASSWORD: '' },
    })
    assert.equal(emptyEnv.keystore.password, 'file-keystore-pw')
    assert.equal(emptyEnv.database.url, 'postgres://u:file-pw@host/db')
  })

  test('databaseParams: PGlite in <dataDir>/db unless a URL is set', () => {
    assert.deepEqual(databaseParams(defaultConfig()), { dataDir: join('.orakel', 'db') })
    const config = parseConfig({ env: { DATABASE_URL: 'postgres://h/db' } })
    assert.deepEqual(databaseParams(config), { url: 'postgres://h/db' })
  })
})

describe('redaction', () => {
  const SECRETS = ['keystore-pw-9f3a', 'admin-pw-77c1', 'db-pw-0b2e', 'rpc-pw-5d1c', 'qs-pw-e1e1']
  const config = parseConfig({
    configText: `[chain]\nrpcUrls = ["https://user:${SECRETS[3]}@rpc.example/v1", "http://127.0.0.1:8545"]`,
    secretsText: `
[database]
url = "postgres://orakel:${SECRETS[2]}@db.example:5432/orakel?sslmode=require&password=${SECRETS[4]}"
[keystore]
password = "${SECRETS[0]}"
[api]
adminPassword = "${SECRETS[1]}"
`,
    env: NO_ENV,
  })

  test('redactConfig replaces secrets and hides URL passwords', () => {
    const r = redactConfig(config)
    assert.deepEqual(r.keystore, { password: '[redacted]' })
    assert.equal(r.api!.adminPassword, '[redacted]')
    assert.equal(
      r.database!.url,
      'postgres://orakel:[redacted]@db.example:5432/orakel?sslmode=require&password=[redacted]',
    )
    assert.deepEqual(r.chain!.rpcUrls, [
      'https://user:[redacted]@rpc.example/v1',
      'http://127.0.0.1:8545',
    ])
    // The input is untouched.
    assert.equal(config.keystore.password, SECRETS[0])
  })

  test('renderConfig never contains a secret', () => {
    const text = renderConfig(config)
    for (const s of SECRETS) assert.ok(!text.includes(s), s)
    assert.match(text, /\[keystore\]\npassword = "\[redacted\]"/)
    assert.match(text, /adminPassword = "\[redacted\]"/)
    assert.match(text, /^\[node\]/)
  })

  test('p2p addresses must be TCP multiaddrs, named when not', () => {
    assert.deepEqual(
      issuesOf({
        configText: '[p2p]\nlisten = "127.0.0.1:6690"\nannounce = ["/ip4/1.2.3.4/udp/1"]',
      }),
      [
        'config:p2p.listen: expected a multiaddr like /ip4/127.0.0.1/tcp/6690, got "127.0.0.1:6690"',
        'config:p2p.announce[0]: expected a multiaddr like /ip4/127.0.0.1/tcp/6690, got "/ip4/1.2.3.4/udp/1"',
      ],
    )
    const ok = parseConfig({
      configText:
        '[p2p]\nlisten = "/ip4/0.0.0.0/tcp/7000"\nannounce = ["/dns4/oracle.example/tcp/7000"]',
      env: NO_ENV,
    })
    assert.deepEqual(ok.p2p, {
      listen: '/ip4/0.0.0.0/tcp/7000',
      announce: ['/dns4/oracle.example/tcp/7000'],
    })
  })

  test('unset secrets are left out, and the output is a valid config file', () => {
    const plain = parseConfig({ configText: '[chain]\nid = 5', env: NO_ENV })
    const text = renderConfig(plain)
    assert.ok(!text.includes('keystore'))
    assert.ok(!text.includes('adminPassword'))
    assert.ok(!text.includes('redacted'))
    assert.deepEqual(parseConfig({ configText: text, env: NO_ENV }), plain)
    assert.deepEqual(Object.keys(parseToml(text)), [
      'node',
      'chain',
      'database',
      'http',
      'p2p',
      'log',
      'txm',
      'jobs',
      'security',
      'api',
    ])
  })

  test('redactUrl', () => {
    assert.equal(redactUrl(''), '')
    assert.equal(redactUrl('postgres://h/db'), 'postgres://h/db')
    assert.equal(redactUrl('not a url with secret'), '[redacted]')
  })
})

describe('loadConfig', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'orakel-config-'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  test('reads both files and the environment', async () => {
    const configFile = join(dir, 'node.toml')
    const secretsFile = join(dir, 'secrets.toml')
    await writeFile(configFile, '[chain]\nid = 10\n')
    await writeFile(secretsFile, '[keystore]\npassword = "pw"\n')
    const config = await loadConfig({ configFile, secretsFile, env: { ORAKEL_API_PASSWORD: 'a' } })
    assert.equal(config.chain.id, 10)
    assert.equal(config.keystore.password, 'pw')
    assert.equal(config.api.adminPassword, 'a')
    assert.deepEqual(await loadConfig({ env: {} }), EXPECTED_DEFAULTS)
  })

  test('issues name the file path; unreadable files are reported with the rest', async () => {
    const configFile = join(dir, 'bad.toml')
    await writeFile(configFile, '[chain]\nrpcUrl = "x"\n')
    const missing = join(dir, 'missing.toml')
    await assert.rejects(
      loadConfig({ configFile, secretsFile: missing, env: {} }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError)
        assert.deepEqual(err.metaMessages, [
          `${missing}: cannot read the file (ENOENT)`,
          `${configFile}:chain.rpcUrl: unknown key (did you mean rpcUrls?)`,
        ])
        assert.deepEqual(err.issues[1], {
          file: configFile,
          path: 'chain.rpcUrl',
          message: 'unknown key (did you mean rpcUrls?)',
        })
        assert.match(err.message, /invalid configuration \(2 issues\)/)
        return true
      },
    )
  })
})
