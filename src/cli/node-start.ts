import { join } from 'node:path'
import type { Command } from 'commander'
import { loadConfig } from '../config/config.ts'
import { startNode } from '../node/node.ts'

/** `orakel node start`: runs the node until SIGINT or SIGTERM. Adds `start` to `parent`. */
export function nodeStartCommand(parent: Command): Command {
  parent
    .command('start')
    .description('Start the oracle node (runs until interrupted)')
    .option('--config <node.toml>', 'the node config file (defaults when absent)')
    .option(
      '--secrets <secrets.toml>',
      'the secrets file (keystore password, database URL, API password)',
    )
    .action(async (opts: { config?: string; secrets?: string }) => {
      const config = await loadConfig({ configFile: opts.config, secretsFile: opts.secrets })
      const node = await startNode({ config })
      process.stderr.write(
        `orakel node running: API ${node.apiUrl} (token in ${join(config.node.dataDir, 'api-token')}), keys ${node.keys.join(', ') || 'none'}\n`,
      )
      await new Promise<void>((resolve) => {
        const done = () => resolve()
        process.once('SIGINT', done)
        process.once('SIGTERM', done)
      })
      await node.stop()
    })
  return parent
}
