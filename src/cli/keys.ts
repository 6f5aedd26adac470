import { readFile, stat, writeFile } from 'node:fs/promises'
import { Command } from 'commander'
import { databaseParams, loadConfig, type NodeConfig } from '../config/config.ts'
import { readPassword } from '../crypto/keystore.ts'
import { BaseError } from '../errors.ts'
import { createEthKeyStore, type EthKeyStore } from '../keys/eth-keys.ts'
import { type Db, openDatabase } from '../store/db.ts'

export class KeysCommandError extends BaseError {
  override name = 'KeysCommandError'
}

type CommonOptions = { config?: string; secrets?: string; passwordFile?: string }

const MAX_KEYSTORE_FILE_BYTES = 1024 * 1024

function withCommonOptions(cmd: Command): Command {
  return cmd
    .option('--config <node.toml>', 'the node config file (defaults when absent)')
    .option('--secrets <secrets.toml>', 'the secrets file')
    .option(
      '--password-file <file>',
      'file holding the keystore password (default: keystore.password from the secrets file, or ORAKEL_KEYSTORE_PASSWORD)',
    )
}

/** Loads the config, opens the node's database and runs `fn` with the key store. */
async function withKeyStore<T>(
  opts: CommonOptions,
  fn: (
    keys: EthKeyStore,
    ctx: { config: NodeConfig; password: () => Promise<string> },
  ) => Promise<T>,
): Promise<T> {
  const config = await loadConfig({ configFile: opts.config, secretsFile: opts.secrets })
  const password = async () => {
    if (opts.passwordFile !== undefined) return readPassword({ passwordFile: opts.passwordFile })
    if (config.keystore.password !== undefined) return config.keystore.password
    throw new KeysCommandError('no keystore password given', {
      metaMessages: [
        'Pass --password-file, set keystore.password in the secrets file, or set ORAKEL_KEYSTORE_PASSWORD.',
      ],
    })
  }
  let db: Db | undefined
  try {
    db = await openDatabase(databaseParams(config))
    return await fn(createEthKeyStore(db), { config, password })
  } finally {
    await db?.close()
  }
}

async function readKeystoreText(file: string): Promise<string> {
  try {
    const { size } = await stat(file)
    if (size > MAX_KEYSTORE_FILE_BYTES)
      throw new KeysCommandError(`${file} is too large to be a keystore`, {
        details: `${size} bytes, at most ${MAX_KEYSTORE_FILE_BYTES}`,
      })
    return await readFile(file, 'utf8')
  } catch (err) {
    if (err instanceof BaseError) throw err
    const code = (err as { code?: unknown }).code
    throw new KeysCommandError(`cannot read ${file}`, {
      details: typeof code === 'string' ? code : undefined,
      cause: err,
    })
  }
}

/** `orakel keys eth create|list|import|export|delete`. */
export function keysCommand(): Command {
  const keys = new Command('keys').description("Manage the node's keys")
  const eth = keys
    .command('eth')
    .description(
      "Ethereum keys: V3 keystores in the node's database, encrypted with the keystore password",
    )

  withCommonOptions(eth.command('create'))
    .description('Make a new random key; prints its address')
    .action(async (opts: CommonOptions) => {
      await withKeyStore(opts, async (store, { password }) => {
        console.log(await store.create(await password()))
      })
    })

  withCommonOptions(eth.command('list'))
    .description('List the keys (address and creation time; never a secret)')
    .option('--json', 'print one JSON object per line')
    .action(async (opts: CommonOptions & { json?: boolean }) => {
      await withKeyStore(opts, async (store) => {
        const list = await store.list()
        if (opts.json) {
          for (const k of list)
            console.log(
              JSON.stringify({ address: k.address, createdAt: k.createdAt.toISOString() }),
            )
          return
        }
        const lines = [`${'ADDRESS'.padEnd(42)}  CREATED`]
        for (const k of list) lines.push(`${k.address}  ${k.createdAt.toISOString()}`)
        console.log(lines.join('\n'))
      })
    })

  withCommonOptions(eth.command('import'))
    .description("Store a V3 keystore file; it must open with the node's keystore password")
    .argument('<file>', 'the keystore JSON file')
    .action(async (file: string, opts: CommonOptions) => {
      const text = await readKeystoreText(file)
      await withKeyStore(opts, async (store, { password }) => {
        console.log(await store.import(text, await password()))
      })
    })

  withCommonOptions(eth.command('export'))
    .description('Print (or write) the keystore of a key, encrypted with the keystore password')
    .argument('<address>', 'the key to export')
    .option('--output <file>', 'write to this new file (mode 0600) instead of stdout')
    .action(async (address: string, opts: CommonOptions & { output?: string }) => {
      await withKeyStore(opts, async (store, { password }) => {
        const text = `${await store.export(address, await password())}\n`
        if (opts.output === undefined) {
          process.stdout.write(text)
          return
        }
        try {
          await writeFile(opts.output, text, { mode: 0o600, flag: 'wx' })
        } catch (err) {
          const code = (err as { code?: unknown }).code
          throw new KeysCommandError(
            code === 'EEXIST'
              ? `${opts.output} already exists; not overwriting it`
              : `cannot write ${opts.output}`,
            { cause: err, details: typeof code === 'string' ? code : undefined },
          )
        }
        console.error(`wrote the keystore to ${opts.output}`)
      })
    })

  withCommonOptions(eth.command('delete'))
    .description('Delete a key (refused while it has unconfirmed transactions)')
    .argument('<address>', 'the key to delete')
    .option('--yes', 'confirm: the key is gone for good unless you exported it')
    .action(async (address: string, opts: CommonOptions & { yes?: boolean }) => {
      if (!opts.yes)
        throw new KeysCommandError('deleting a key cannot be undone: add --yes to confirm', {
          metaMessages: ['Export it first (orakel keys eth export) to keep a backup.'],
        })
      await withKeyStore(opts, async (store) => {
        await store.delete(address)
        console.error(`deleted ${address}`)
      })
    })

  return keys
}
