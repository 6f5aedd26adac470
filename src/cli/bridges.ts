import { Command } from 'commander'
import { BaseError } from '../errors.ts'
import {
  type ApiOptions,
  createApiClientFrom,
  prettyJson,
  table,
  withApiOptions,
} from './api-client.ts'

export class BridgesCommandError extends BaseError {
  override name = 'BridgesCommandError'
}

/** A bridge as the API lists it (no secrets). */
export type BridgeView = {
  name: string
  url: string
  confirmations: number
  createdAt: string
  updatedAt: string
}

/** `orakel bridges add|list|remove`: external adapters of a running node. */
export function bridgesCommand(): Command {
  const bridges = new Command('bridges').description(
    "Manage a running node's bridges (external adapters)",
  )

  withApiOptions(
    bridges
      .command('add')
      .description('Register an external adapter; prints its two tokens, once')
      .argument('<name>', 'letters, digits, "_" and "-" (case-insensitive)')
      .argument('<url>', 'the adapter URL (http or https)')
      .option('--confirmations <n>', 'minimum incoming confirmations for jobs using it', (v) => {
        if (!/^\d+$/.test(v))
          throw new BridgesCommandError('--confirmations must be a whole number')
        return Number(v)
      }),
  ).action(async (name: string, url: string, options: ApiOptions & { confirmations?: number }) => {
    const api = await createApiClientFrom(options)
    const res = await api.request<{
      bridge: BridgeView
      outgoingToken: string
      incomingToken: string
    }>('POST', '/v2/bridges', {
      body: JSON.stringify({ name, url, confirmations: options.confirmations }),
    })
    console.log(`added bridge ${res.bridge.name} -> ${res.bridge.url}`)
    console.log(`outgoing token (the node sends it to the adapter): ${res.outgoingToken}`)
    console.log(`incoming token (the adapter sends it to the node): ${res.incomingToken}`)
    console.error('These tokens are shown only now: give them to the adapter.')
  })

  withApiOptions(
    bridges.command('list').description('List the bridges').option('--json', 'print JSON'),
  ).action(async (options: ApiOptions & { json?: boolean }) => {
    const api = await createApiClientFrom(options)
    const res = await api.request<{ bridges: BridgeView[] }>('GET', '/v2/bridges')
    if (options.json) return console.log(prettyJson(res.bridges))
    if (res.bridges.length === 0) return console.log('no bridges')
    console.log(
      table([
        ['NAME', 'CONFIRMATIONS', 'URL'],
        ...res.bridges.map((b) => [b.name, String(b.confirmations), b.url]),
      ]),
    )
  })

  withApiOptions(
    bridges.command('remove').description('Remove a bridge').argument('<name>', 'the bridge'),
  ).action(async (name: string, options: ApiOptions) => {
    const api = await createApiClientFrom(options)
    const res = await api.request<{ bridge: BridgeView }>(
      'DELETE',
      `/v2/bridges/${encodeURIComponent(name)}`,
    )
    console.log(`removed bridge ${res.bridge.name}`)
  })
  return bridges
}
