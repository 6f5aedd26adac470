import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { getAddress } from 'viem'
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts'
import { decryptKeystore, encryptKeystore } from '../crypto/keystore.ts'
import { type Db, openDatabase } from '../store/db.ts'

const PASSWORD = 'cli-node-password-3c9d'

/** A program with only `keys`, run as `orakel` would run it (errors printed, exit code 1). */
const entry = (commander: string) => `
import { Command, CommanderError } from ${JSON.stringify(commander)}
import { keysCommand } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, 'keys.ts')).href)}
import { printError } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, 'main.ts')).href)}
const program = new Command('orakel').exitOverride()
program.addCommand(keysCommand())
try {
  await program.parseAsync(process.argv.slice(2), { from: 'user' })
} catch (err) {
  if (err instanceof CommanderError) process.exitCode = err.exitCode
  else {
    printError(err)
    process.exitCode = 1
  }
}
`

describe('orakel keys eth', () => {
  let dir: string
  let main: string
  let configFile: string
  let secretsFile: string
  let passwordFile: string
  /** Child environment: PGlite in the temp dataDir, or an own schema on DATABASE_URL. */
  const env: NodeJS.ProcessEnv = { ...process.env }
  let schema: string | undefined
  let admin: Db | undefined

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'orakel-keys-cli-'))
    main = join(dir, 'entry.mjs')
    await writeFile(main, entry(import.meta.resolve('commander')))
    configFile = join(dir, 'node.toml')
    // Keys made by the CLI use the default scrypt cost (2**17), about half a second each.
    await writeFile(configFile, `[node]\ndataDir = ${JSON.stringify(join(dir, 'data'))}\n`)
    secretsFile = join(dir, 'secrets.toml')
    await writeFile(secretsFile, `[keystore]\npassword = "${PASSWORD}"\n`)
    passwordFile = join(dir, 'password')
    await writeFile(passwordFile, `${PASSWORD}\n`)
    delete env.ORAKEL_KEYSTORE_PASSWORD
    const url = process.env.DATABASE_URL
    if (url) {
      schema = `t_${randomBytes(6).toString('hex')}`
      admin = await openDatabase({ url, schema, poolSize: 1 })
      const u = new URL(url)
      u.searchParams.set('options', `-c search_path=${schema}`)
      env.DATABASE_URL = u.toString()
    }
  })
  after(async () => {
    if (admin) {
      await admin.exec(`DROP SCHEMA ${schema} CASCADE`).catch(() => {})
      await admin.close()
    }
    await rm(dir, { recursive: true, force: true })
  })

  const run = async (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [main, ...args], {
        env: { ...env, ...extraEnv },
      })
      return { code: 0, stdout, stderr }
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string }
      return { code: e.code, stdout: e.stdout, stderr: e.stderr }
    }
  }
  const common = () => ['--config', configFile, '--secrets', secretsFile]

  let created: string
  let imported: string
  const importedKey = generatePrivateKey()

  it('--help lists the subcommands and options', async () => {
    const res = await run(['keys', 'eth', '--help'])
    assert.equal(res.code, 0)
    for (const c of ['create', 'list', 'import', 'export', 'delete'])
      assert.match(res.stdout, new RegExp(c))
    const create = await run(['keys', 'eth', 'create', '--help'])
    for (const o of ['--config', '--secrets', '--password-file'])
      assert.ok(create.stdout.includes(o), o)
  })

  it('create prints a checksummed address, with the secrets-file password', async () => {
    const res = await run(['keys', 'eth', 'create', ...common()])
    assert.equal(res.code, 0, res.stderr)
    created = res.stdout.trim()
    assert.equal(created, getAddress(created))
    assert.ok(!res.stdout.includes(PASSWORD) && !res.stderr.includes(PASSWORD))
    // PGlite in <dataDir>/db, unless the database URL points elsewhere.
    assert.equal(existsSync(join(dir, 'data', 'db')), !process.env.DATABASE_URL)
  })

  it('create without any password fails', async () => {
    const res = await run(['keys', 'eth', 'create', '--config', configFile])
    assert.equal(res.code, 1)
    assert.match(res.stderr, /no keystore password given/)
  })

  it('import takes a keystore that opens with the node password (--password-file)', async () => {
    const file = join(dir, 'import.json')
    await writeFile(
      file,
      JSON.stringify(await encryptKeystore(importedKey, PASSWORD, { scryptN: 2 ** 10 })),
    )
    const res = await run([
      'keys',
      'eth',
      'import',
      file,
      '--config',
      configFile,
      '--password-file',
      passwordFile,
    ])
    assert.equal(res.code, 0, res.stderr)
    imported = res.stdout.trim()
    assert.equal(imported, privateKeyToAddress(importedKey))

    const again = await run(['keys', 'eth', 'import', file, ...common()])
    assert.equal(again.code, 1)
    assert.match(again.stderr, new RegExp(`key ${imported} already exists`))
  })

  it('import fails closed with another password', async () => {
    const key = generatePrivateKey()
    const file = join(dir, 'other.json')
    await writeFile(file, JSON.stringify(await encryptKeystore(key, 'other', { scryptN: 2 ** 10 })))
    const res = await run(['keys', 'eth', 'import', file, ...common()])
    assert.equal(res.code, 1)
    assert.match(res.stderr, /cannot import the keystore: wrong password/)
    assert.ok(!res.stderr.includes(key.slice(2)))
    const missing = await run(['keys', 'eth', 'import', join(dir, 'nope.json'), ...common()])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /cannot read .*nope\.json/)
  })

  it('list prints a table or JSON lines, never a secret', async () => {
    const table = await run(['keys', 'eth', 'list', '--config', configFile])
    assert.equal(table.code, 0, table.stderr)
    const lines = table.stdout.trim().split('\n')
    assert.match(lines[0]!, /^ADDRESS\s+CREATED$/)
    assert.equal(lines.length, 3)
    const json = await run(['keys', 'eth', 'list', '--json', '--config', configFile])
    const rows = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { address: string; createdAt: string })
    assert.deepEqual(rows.map((r) => r.address).sort(), [created, imported].sort())
    for (const r of rows) assert.deepEqual(Object.keys(r), ['address', 'createdAt'])
    assert.ok(!`${table.stdout}${json.stdout}`.includes('ciphertext'))
  })

  it('export prints the keystore, or writes a new 0600 file', async () => {
    const res = await run(['keys', 'eth', 'export', imported, ...common()])
    assert.equal(res.code, 0, res.stderr)
    assert.equal(await decryptKeystore(res.stdout, PASSWORD), importedKey)

    const out = join(dir, 'exported.json')
    const written = await run([
      'keys',
      'eth',
      'export',
      created.toLowerCase(),
      '--output',
      out,
      ...common(),
    ])
    assert.equal(written.code, 0, written.stderr)
    assert.equal(written.stdout, '')
    assert.equal((await stat(out)).mode & 0o777, 0o600)
    const key = await decryptKeystore(await readFile(out, 'utf8'), PASSWORD)
    assert.equal(privateKeyToAddress(key), created)

    const clobber = await run(['keys', 'eth', 'export', created, '--output', out, ...common()])
    assert.equal(clobber.code, 1)
    assert.match(clobber.stderr, /already exists; not overwriting/)

    const wrong = await run(['keys', 'eth', 'export', created, '--config', configFile], {
      ORAKEL_KEYSTORE_PASSWORD: 'wrong',
    })
    assert.equal(wrong.code, 1)
    assert.match(wrong.stderr, new RegExp(`cannot export key ${created}: wrong password`))
  })

  it('delete needs --yes, then removes the key', async () => {
    const refused = await run(['keys', 'eth', 'delete', created, '--config', configFile])
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /add --yes/)
    const res = await run(['keys', 'eth', 'delete', created, '--yes', '--config', configFile])
    assert.equal(res.code, 0, res.stderr)
    const unknown = await run(['keys', 'eth', 'delete', created, '--yes', '--config', configFile])
    assert.equal(unknown.code, 1)
    assert.match(unknown.stderr, new RegExp(`no key ${created}`))
    const json = await run(['keys', 'eth', 'list', '--json', '--config', configFile])
    assert.deepEqual(
      json.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { address: string }).address),
      [imported],
    )
  })

  it('an invalid config file fails with every issue', async () => {
    const bad = join(dir, 'bad.toml')
    await writeFile(bad, '[chain]\nrpcUrl = "x"\n[http]\nport = 70000\n')
    const res = await run(['keys', 'eth', 'list', '--config', bad])
    assert.equal(res.code, 1)
    assert.match(res.stderr, /invalid configuration \(2 issues\)/)
    assert.match(res.stderr, /bad\.toml:chain\.rpcUrl: unknown key/)
    assert.match(res.stderr, /bad\.toml:http\.port: expected an integer from 0 to 65535/)
  })
})
