import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Command } from 'commander'
import { parse as parseToml } from 'smol-toml'
import { ConfigError } from '../config/config.ts'
import { nodeConfigCommand } from './node-config.ts'

/** Runs `orakel node config ...` in process; returns what it wrote to stdout. */
async function run(args: string[], parent?: Command): Promise<string> {
  const program = new Command('orakel').exitOverride()
  if (parent) {
    nodeConfigCommand(parent)
    program.addCommand(parent)
  } else program.addCommand(nodeConfigCommand())
  for (const c of program.commands) c.exitOverride()
  let out = ''
  const write = process.stdout.write
  // Only strings: the test runner's own reports to the parent go through stdout as bytes.
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (typeof chunk !== 'string')
      return (write as (...a: unknown[]) => boolean).call(process.stdout, chunk, ...rest)
    out += chunk
    return true
  }) as typeof process.stdout.write
  try {
    await program.parseAsync(['node', 'config', ...args], { from: 'user' })
  } finally {
    process.stdout.write = write
  }
  return out
}

describe('orakel node config', () => {
  let dir: string
  const saved = {
    DATABASE_URL: process.env.DATABASE_URL,
    ORAKEL_KEYSTORE_PASSWORD: process.env.ORAKEL_KEYSTORE_PASSWORD,
    ORAKEL_API_PASSWORD: process.env.ORAKEL_API_PASSWORD,
  }
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'orakel-node-config-'))
    // loadConfig reads process.env: start from a clean slate.
    for (const k of Object.keys(saved)) delete process.env[k]
  })
  after(async () => {
    for (const [k, v] of Object.entries(saved)) if (v !== undefined) process.env[k] = v
    await rm(dir, { recursive: true, force: true })
  })

  it('prints the defaults without a config file', async () => {
    const out = await run([])
    const parsed = parseToml(out) as Record<string, Record<string, unknown>>
    assert.equal(parsed.chain!.id, 31337)
    assert.equal(parsed.http!.port, 6688)
    assert.equal(parsed.keystore, undefined)
  })

  it('prints the effective config with secrets redacted', async () => {
    const config = join(dir, 'node.toml')
    const secrets = join(dir, 'secrets.toml')
    await writeFile(config, '[chain]\nid = 5\n[log]\nlevel = "debug"\n')
    await writeFile(
      secrets,
      '[database]\nurl = "postgres://orakel:db-secret-1@db:5432/orakel"\n[keystore]\npassword = "ks-secret-2"\n',
    )
    process.env.ORAKEL_API_PASSWORD = 'api-secret-3'
    try {
      const out = await run(['--config', config, '--secrets', secrets])
      for (const s of ['db-secret-1', 'ks-secret-2', 'api-secret-3']) assert.ok(!out.includes(s), s)
      const parsed = parseToml(out) as Record<string, Record<string, unknown>>
      assert.equal(parsed.chain!.id, 5)
      assert.equal(parsed.log!.level, 'debug')
      assert.equal(parsed.database!.url, 'postgres://orakel:[redacted]@db:5432/orakel')
      assert.equal(parsed.keystore!.password, '[redacted]')
      assert.equal(parsed.api!.adminPassword, '[redacted]')
    } finally {
      delete process.env.ORAKEL_API_PASSWORD
    }
  })

  it('an invalid config fails with every issue', async () => {
    const config = join(dir, 'bad.toml')
    await writeFile(
      config,
      '[chain]\nrpcUrl = "x"\n[http]\nport = 70000\n[keystore]\npassword = "s"\n',
    )
    await assert.rejects(run(['--config', config]), (err: unknown) => {
      assert.ok(err instanceof ConfigError)
      assert.deepEqual(err.metaMessages, [
        `${config}:keystore.password: is a secret: move it to the secrets file (or set ORAKEL_KEYSTORE_PASSWORD)`,
        `${config}:chain.rpcUrl: unknown key (did you mean rpcUrls?)`,
        `${config}:http.port: expected an integer from 0 to 65535 (0 picks a free port), got 70000`,
      ])
      return true
    })
  })

  it('attaches to an existing node command', async () => {
    const node = new Command('node')
    node.command('start')
    const out = await run([], node)
    assert.match(out, /^\[node\]/)
    assert.deepEqual(
      node.commands.map((c) => c.name()),
      ['start', 'config'],
    )
  })
})
