import { Command, CommanderError } from 'commander'
import { BaseError } from '../errors.ts'
import { adapterCommand } from './adapter.ts'
import { bridgesCommand } from './bridges.ts'
import { demoCommand } from './demo.ts'
import { deployCommand } from './deploy.ts'
import { jobsCommand } from './jobs.ts'
import { keysCommand } from './keys.ts'
import { loginCommand, logoutCommand } from './login.ts'
import { nodeConfigCommand } from './node-config.ts'
import { nodeStartCommand } from './node-start.ts'
import { nodeStatusCommand } from './node-status.ts'
import { reputationCommand } from './reputation.ts'
import { runsCommand } from './runs.ts'
import { sourcesCommand } from './sources.ts'

/** The `orakel` command line. Each command lives in its own module. */
export function buildProgram(): Command {
  const program = new Command('orakel')
    .description('Orakel: a decentralized oracle network (Chainlink-compatible contracts and node)')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride()
  program.addCommand(deployCommand())
  program.addCommand(demoCommand())
  program.addCommand(jobsCommand())
  program.addCommand(keysCommand())
  const node = nodeConfigCommand()
  nodeStartCommand(node)
  nodeStatusCommand(node)
  program.addCommand(node)
  program.addCommand(runsCommand())
  program.addCommand(reputationCommand())
  program.addCommand(bridgesCommand())
  program.addCommand(loginCommand())
  program.addCommand(logoutCommand())
  program.addCommand(adapterCommand())
  program.addCommand(sourcesCommand())
  // Usage errors in subcommands are reported through main(), not by exiting the process.
  const override = (cmd: Command) => {
    cmd.exitOverride()
    for (const sub of cmd.commands) override(sub)
  }
  override(program)
  return program
}

/** Prints an error for a person: the short message, then the details, never a stack. */
export function printError(err: unknown): void {
  if (err instanceof BaseError) {
    console.error(`error: ${err.shortMessage}`)
    for (const line of err.metaMessages ?? []) console.error(`  ${line}`)
    if (err.details) console.error(`  ${err.details}`)
    let cause = err.cause
    while (cause) {
      const message =
        cause instanceof BaseError
          ? cause.shortMessage
          : cause instanceof Error
            ? cause.message
            : String(cause)
      console.error(`  caused by: ${message.split('\n')[0]}`)
      cause = cause instanceof Error ? cause.cause : undefined
    }
  } else {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`)
  }
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' })
    return 0
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode
    printError(err)
    return 1
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2))
}
