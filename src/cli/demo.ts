import { Command } from 'commander'
import { runDemo } from '../demo/run.ts'

export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'Run a local oracle network end to end: anvil, LinkToken + Operator, one request from the ' +
        'example consumer answered with a price from a simulated exchange (what `npm start` runs)',
    )
    .action(async () => {
      await runDemo()
    })
}
