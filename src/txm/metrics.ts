import { Counter, type Registry } from 'prom-client'

export type TxmMetrics = {
  broadcasts: Counter<'chain_id'>
  bumps: Counter<'chain_id'>
  confirmations: Counter<'chain_id'>
  reverts: Counter<'chain_id'>
  fatal: Counter<'chain_id'>
}

function counter(registry: Registry, name: string, help: string): Counter<'chain_id'> {
  // Several managers (one per chain, or a restarted one) share the node's registry.
  const existing = registry.getSingleMetric(name)
  if (existing) return existing as Counter<'chain_id'>
  return new Counter({ name, help, labelNames: ['chain_id'], registers: [registry] })
}

export function txmMetrics(registry: Registry): TxmMetrics {
  return {
    broadcasts: counter(
      registry,
      'orakel_txm_broadcasts_total',
      'Signed attempts the node accepted (first sends, bumps and re-sends).',
    ),
    bumps: counter(registry, 'orakel_txm_bumps_total', 'Replacement attempts with raised fees.'),
    confirmations: counter(
      registry,
      'orakel_txm_confirmations_total',
      'Transactions confirmed successfully at the required depth.',
    ),
    reverts: counter(
      registry,
      'orakel_txm_reverts_total',
      'Transactions mined but reverted, at the required depth.',
    ),
    fatal: counter(
      registry,
      'orakel_txm_fatal_errors_total',
      'Transactions that can never be mined (refused by the node, or nonce used elsewhere).',
    ),
  }
}
