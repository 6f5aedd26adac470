import { Command, Option } from 'commander'
import { type Address, getAddress, isAddress } from 'viem'
import { createChainClient } from '../chain/client.ts'
import { deployCore } from '../chain/deploy.ts'
import { readKeystoreFile, readPassword, readPrivateKeyFile } from '../crypto/keystore.ts'
import { BaseError } from '../errors.ts'

export class UsageError extends BaseError {
  override name = 'UsageError'
}

type DeployOptions = {
  rpcUrl: string
  privateKeyFile?: string
  keystore?: string
  passwordFile?: string
  chainId?: number
  authorizedSender?: string[]
}

export function deployCommand(): Command {
  return new Command('deploy')
    .description(
      'Deploy LinkToken and an Operator owned by the deploying key; prints their addresses as JSON',
    )
    .requiredOption('--rpc-url <url>', 'JSON-RPC endpoint of the chain')
    .addOption(
      new Option('--private-key-file <file>', 'file holding the deployer key (hex)').conflicts(
        'keystore',
      ),
    )
    .addOption(new Option('--keystore <file>', 'Ethereum V3 JSON keystore of the deployer key'))
    .option(
      '--password-file <file>',
      'file holding the keystore password (default: the ORAKEL_KEYSTORE_PASSWORD environment variable)',
    )
    .option('--chain-id <id>', 'refuse to deploy unless the RPC serves this chain id', (v) => {
      const n = Number(v)
      if (!Number.isSafeInteger(n) || n <= 0)
        throw new UsageError(`--chain-id must be a positive integer, got ${v}`)
      return n
    })
    .option(
      '--authorized-sender <address...>',
      'node key address(es) allowed to fulfil requests on the new Operator',
    )
    .action(async (options: DeployOptions) => {
      const privateKey = options.keystore
        ? await readKeystoreFile(
            options.keystore,
            await readPassword({ passwordFile: options.passwordFile }),
          )
        : options.privateKeyFile
          ? await readPrivateKeyFile(options.privateKeyFile)
          : undefined
      if (!privateKey)
        throw new UsageError('give the deployer key with --private-key-file or --keystore')
      const authorizedSenders: Address[] = (options.authorizedSender ?? []).map((a) => {
        if (!isAddress(a, { strict: false }))
          throw new UsageError(`--authorized-sender ${a} is not an address`)
        return getAddress(a)
      })
      const client = await createChainClient({
        rpcUrl: options.rpcUrl,
        privateKey,
        ...(options.chainId ? { chainId: options.chainId } : {}),
      })
      const deployment = await deployCore(client, { authorizedSenders })
      process.stdout.write(`${JSON.stringify(deployment)}\n`)
    })
}
