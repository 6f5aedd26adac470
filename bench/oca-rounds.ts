/**
 * The OCA protocol's round figures for `npm run bench:oca` (issue 7): a real committee of n
 * members in this process, each with its own libp2p host on 127.0.0.1 and its own in-memory
 * PGlite database (src/oca/local-committee.ts, `startLocalMembers`):
 *
 * 1. the group key by DKG over the network;
 * 2. the nonces for every round by nonce-batch DKG sessions over the network, made before the
 *    timed rounds (their traffic and time are reported apart, amortised per round);
 * 3. `warmup + rounds` rounds one after another, every member starting each at once; a round is
 *    over when every member holds Σ. Every Σ is checked and "transmitted" to an in-memory chain
 *    that verifies it against the group key as the ThresholdAggregator does (one Schnorr
 *    verification; the on-chain cost is `transmit_gas`), so fallbacks stand down as on chain. The
 *    timing is not affected: it ends when the member holds Σ, before its transmission step.
 *
 * Figures: `round_p50_ms`/`round_p99_ms` over every (member, round) of the timed rounds, from the
 * member's start of the round (observe) to the moment it holds Σ; `round_all_p50_ms` the same
 * until the last member holds Σ; `msgs_per_round`/`bytes_per_round` the OCA messages
 * (`oca/*`) each node writes to its peers per round (a broadcast to n−1 peers counts n−1;
 * bytes are framed, signed envelopes — Noise, Yamux and TCP overhead not counted);
 * `round_cpu_per_node_ms` the process's CPU time over the timed rounds per member per round
 * (what one node computes for a round, libp2p included);
 * `nonce_batch_msgs`/`nonce_batch_bytes`/`nonce_batch_ms` the nonce DKG per node per round
 * (`nonce_batch_ms` is wall time of the batch sessions divided by the rounds they cover; all n
 * members compute in this one process, so per node it is about a 1/n of it).
 *
 * All n members share this process (and its cores): at large n the figures include every other
 * member's computation, so they are an upper bound on what one node on its own machine sees.
 */

import pino from 'pino'
import { startLocalMembers } from '../src/oca/local-committee.ts'
import type { SignedRound } from '../src/oca/member.ts'
import type { CommitteeHost } from '../src/p2p/host.ts'
import { percentile } from './stats.ts'

export type RoundFigures = {
  rounds: number
  views_per_round: number
  rounds_per_batch: number
  key_dkg_net_ms: number
  round_p50_ms: number | null
  round_p99_ms: number | null
  round_all_p50_ms: number | null
  round_all_p99_ms: number | null
  view_changes: number
  round_cpu_per_node_ms: number
  msgs_per_round: number
  bytes_per_round: number
  nonce_batch_msgs: number
  nonce_batch_bytes: number
  nonce_batch_ms: number
}

const MAX_INSTANCES = 256

/** Sum over hosts of the traffic of the types `pick` selects. */
function traffic(hosts: CommitteeHost[], pick: (type: string) => boolean) {
  let messages = 0
  let bytes = 0
  for (const h of hosts)
    for (const [type, t] of Object.entries(h.stats().sentByType))
      if (pick(type)) {
        messages += t.messages
        bytes += t.bytes
      }
  return { messages, bytes }
}

const isOca = (type: string) => type.startsWith('oca/')
const isDkg = (type: string) => type.startsWith('dkg/')
const round1 = (v: number) => Number(v.toFixed(1))

export async function measureRounds(
  n: number,
  f: number,
  options: { rounds: number; warmup: number; views: number; roundTimeoutMs: number },
): Promise<RoundFigures> {
  const total = options.warmup + options.rounds
  const V = options.views
  const R = Math.min(total, Math.floor(MAX_INSTANCES / V))
  const batches = Math.ceil(total / R)
  const logger = pino({ level: process.env.BENCH_LOG ?? 'silent' })
  const signed = new Map<number, SignedRound[]>()
  let waiting: { round: number; resolve: () => void } | undefined
  const committee = await startLocalMembers({
    n,
    f,
    logger,
    keyPhaseTimeoutMs: 600_000,
    timing: {
      viewTimeoutMs: options.roundTimeoutMs,
      phaseTimeoutMs: Number(process.env.BENCH_OCA_PHASE_MS ?? 600_000),
      roundsPerBatch: R,
      viewsPerRound: V,
      refillRounds: 0, // batches are made before the timed rounds, never during them
      transmitStepMs: 100,
    },
    memberDeps: () => ({
      onSigned(s) {
        let list = signed.get(s.round)
        if (!list) {
          list = []
          signed.set(s.round, list)
        }
        list.push(s)
        if (waiting && waiting.round === s.round && list.length === n) waiting.resolve()
      },
    }),
  })
  try {
    const members = committee.members.map((m) => m!)
    // Nonces for every round, before the timed rounds.
    const before = traffic(committee.hosts, isDkg)
    const nonceStarted = performance.now()
    for (let b = 0; b < batches; b++) {
      const ok = await Promise.all(members.map((m) => m.ensureNonces(1 + b * R)))
      if (!ok.every(Boolean)) throw new Error(`n = ${n}: nonce batch ${b} failed`)
    }
    const nonceMs = performance.now() - nonceStarted
    // Let the last digests leave the queues before counting.
    await new Promise((resolve) => setTimeout(resolve, 200))
    const dkg = traffic(committee.hosts, isDkg)

    let ocaBefore = traffic(committee.hosts, isOca)
    let cpuBefore = process.cpuUsage()
    for (let round = 1; round <= total; round++) {
      if (round === options.warmup + 1) {
        ocaBefore = traffic(committee.hosts, isOca)
        cpuBefore = process.cpuUsage()
      }
      const done = new Promise<void>((resolve) => {
        waiting = { round, resolve }
      })
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(
          () =>
            reject(
              new Error(
                `n = ${n}: round ${round} not signed by every member within ${options.roundTimeoutMs * 3} ms (${signed.get(round)?.length ?? 0} of ${n})`,
              ),
            ),
          options.roundTimeoutMs * 3,
        ).unref(),
      )
      await Promise.all(members.map((m) => m.startRound(round)))
      await Promise.race([done, timeout])
    }
    const cpu = process.cpuUsage(cpuBefore)
    // The last reveals and prepared messages of the last round leave the queues.
    await new Promise((resolve) => setTimeout(resolve, 200))
    const oca = traffic(committee.hosts, isOca)

    const samples: number[] = []
    const lastSigner: number[] = []
    let viewChanges = 0
    for (let round = options.warmup + 1; round <= total; round++) {
      const list = signed.get(round) ?? []
      for (const s of list) samples.push(s.signedMs)
      lastSigner.push(Math.max(...list.map((s) => s.signedMs)))
      if (list.some((s) => s.view > 0)) viewChanges += 1
    }
    samples.sort((a, b) => a - b)
    lastSigner.sort((a, b) => a - b)
    const perNodeRound = n * options.rounds
    return {
      rounds: options.rounds,
      views_per_round: V,
      rounds_per_batch: R,
      key_dkg_net_ms: round1(committee.keyDkgMs),
      round_p50_ms: percentile(samples, 50),
      round_p99_ms: percentile(samples, 99),
      round_all_p50_ms: percentile(lastSigner, 50),
      round_all_p99_ms: percentile(lastSigner, 99),
      view_changes: viewChanges,
      round_cpu_per_node_ms: round1((cpu.user + cpu.system) / 1000 / perNodeRound),
      msgs_per_round: round1((oca.messages - ocaBefore.messages) / perNodeRound),
      bytes_per_round: Math.round((oca.bytes - ocaBefore.bytes) / perNodeRound),
      nonce_batch_msgs: round1((dkg.messages - before.messages) / (n * batches * R)),
      nonce_batch_bytes: Math.round((dkg.bytes - before.bytes) / (n * batches * R)),
      nonce_batch_ms: round1(nonceMs / (batches * R)),
    }
  } finally {
    await committee.stop()
  }
}
