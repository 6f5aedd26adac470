import { Command } from 'commander'
import { type ApiOptions, createApiClientFrom, prettyJson, withApiOptions } from './api-client.ts'

/**
 * `orakel node status`: what a running node reports about itself (GET /v2/status), as JSON.
 * Pass an existing `node` command to add `status` to it; else a new `node` command is made.
 */
export function nodeStatusCommand(parent?: Command): Command {
  const node = parent ?? new Command('node').description('Work with a running node')
  withApiOptions(node.command('status').description("Print a running node's status (JSON)")).action(
    async (options: ApiOptions) => {
      const api = await createApiClientFrom(options)
      console.log(prettyJson(await api.request('GET', '/v2/status')))
    },
  )
  return node
}
