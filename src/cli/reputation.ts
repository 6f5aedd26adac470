import { Command } from 'commander'
import { type ReputationView, reputationRows } from '../chain/reputation.ts'
import {
  type ApiOptions,
  createApiClientFrom,
  prettyJson,
  table,
  withApiOptions,
} from './api-client.ts'

/**
 * `orakel reputation <oracle…> --contract <reputation> --spec <specId|externalJobID>`: the
 * oracles' reputation records for one spec (assigned, completed, accepted, missed, rates, average
 * response time, penalties, the market's score), read from the chain by a running node
 * (GET /v2/reputation/<oracle>). `--json` prints the API's answers.
 */
export function reputationCommand(): Command {
  return withApiOptions(
    new Command('reputation')
      .description("Print oracles' reputation for a spec, read from the reputation contract")
      .argument('<oracles...>', 'oracle addresses')
      .requiredOption('--contract <address>', 'the reputation contract')
      .requiredOption('--spec <id>', 'the spec id (0x + 64 hex) or a job externalJobID')
      .option('--json', 'print JSON'),
  ).action(
    async (
      oracles: string[],
      options: ApiOptions & { contract: string; spec: string; json?: boolean },
    ) => {
      const api = await createApiClientFrom(options)
      const views: ReputationView[] = []
      for (const oracle of oracles) {
        const query = new URLSearchParams({ contract: options.contract, specId: options.spec })
        const res = (await api.request(
          'GET',
          `/v2/reputation/${encodeURIComponent(oracle)}?${query}`,
        )) as { reputation: Record<string, unknown> }
        views.push(fromJson(res.reputation))
      }
      if (options.json) console.log(prettyJson(views))
      else console.log(table(reputationRows(views)))
    },
  )
}

/** The API's JSON (exact numbers as strings or numbers) back into a view. */
function fromJson(j: Record<string, unknown>): ReputationView {
  const big = (k: string) => BigInt(String(j[k]))
  const num = (k: string) => Number(j[k])
  return {
    oracle: j.oracle as ReputationView['oracle'],
    specId: j.specId as ReputationView['specId'],
    assigned: num('assigned'),
    completed: num('completed'),
    accepted: num('accepted'),
    missed: num('missed'),
    depositsLocked: big('depositsLocked'),
    penaltiesPaid: big('penaltiesPaid'),
    totalResponseSeconds: big('totalResponseSeconds'),
    completionRateBps: big('completionRateBps'),
    accuracyRateBps: big('accuracyRateBps'),
    averageResponseSeconds: big('averageResponseSeconds'),
    score: big('score'),
  }
}
