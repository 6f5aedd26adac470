import { Command } from 'commander'
import { loadConfig, renderConfig } from '../config/config.ts'

/**
 * `orakel node config`: prints the effective configuration (defaults, config file, secrets
 * file and environment merged) as TOML, secrets redacted. An invalid configuration fails with
 * every issue listed (a `ConfigError`).
 *
 * Adds `config` to `parent` when given (a shared `node` command), else to a new `node` command.
 */
export function nodeConfigCommand(parent?: Command): Command {
  const node = parent ?? new Command('node').description('The oracle node')
  node
    .command('config')
    .description('Print the effective configuration (secrets redacted); check it')
    .option('--config <node.toml>', 'the node config file (defaults when absent)')
    .option('--secrets <secrets.toml>', 'the secrets file')
    .action(async (opts: { config?: string; secrets?: string }) => {
      const config = await loadConfig({ configFile: opts.config, secretsFile: opts.secrets })
      process.stdout.write(renderConfig(config))
    })
  return node
}
