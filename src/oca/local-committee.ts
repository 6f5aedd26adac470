import { createServer } from 'node:net'
import type { Registry } from 'prom-client'
import {
  type Address,
  getAddress,
  getContractAddress,
  type Hex,
  keccak256,
  parseEventLogs,
  toHex,
} from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { ThresholdAggregatorAbi, ThresholdAggregatorBytecode } from '../../artifacts/abis.ts'
import { type ChainClient, createChainClient } from '../chain/client.ts'
import { deployContract } from '../chain/deploy.ts'
import type { Logger } from '../common.ts'
import { parsePoint } from '../crypto/dkg.ts'
import { type SchnorrSignature, toPublicKey, verify } from '../crypto/schnorr.ts'
import { type CommitteeHost, createCommitteeHost } from '../p2p/host.ts'
import { generateP2pKey, peerIdOf } from '../p2p/keys.ts'
import { type Db, openDatabase } from '../store/db.ts'
import { createOcaRepository, type OcaRepository, openSealingKey } from '../store/oca.ts'
import { readLatestRound, sendTransmit } from './aggregator.ts'
import {
  createOcaMember,
  ensureGroupKey,
  type OcaMember,
  type OcaMemberDeps,
  type OcaMemberParams,
  type RoundOutcome,
} from './member.ts'
import { configDigestOf, type Report, reportMessage } from './report.ts'
import { createSealer } from './sealing.ts'

/**
 * An off-chain aggregation committee on this machine (`npm start`, benchmarks): each member on
 * its own database (e.g. its node's), its own libp2p host on 127.0.0.1 and its own oracle key.
 * The group key is made by a DKG over the network, bound to the ThresholdAggregator's config
 * digest — known before deployment, since the aggregator's address is the owner's next CREATE
 * address — and the aggregator is then deployed with it.
 */
export type LocalOcaMember = {
  db: Db
  /** Encrypts the member's key share and nonces at rest. */
  password: string
  /** The member's oracle key: signs observations and sends `transmit`. */
  oracleKey: Hex
  observe(round: number): Promise<bigint>
}

export type LocalOcaCommittee = {
  aggregator: Address
  oracles: Address[]
  /** Starts `round` at every member and resolves once it is on chain. */
  playRound(
    round: number,
    timeoutMs?: number,
  ): Promise<{ answer: bigint; gasUsed: bigint; transmitter: Address }>
  stop(): Promise<void>
}

/** A free TCP port on 127.0.0.1 (for a libp2p host that must listen on a known port). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

export async function startOcaCommittee(params: {
  owner: ChainClient
  rpcUrl: string
  members: LocalOcaMember[]
  f: number
  epoch?: number
  minAnswer?: bigint
  maxAnswer?: bigint
  decimals: number
  description: string
  logger: Logger
  /** Protocol timing; defaults suit an idle machine (the demo gives more room). */
  timing?: Partial<
    Pick<
      OcaMemberParams,
      'viewTimeoutMs' | 'phaseTimeoutMs' | 'roundsPerBatch' | 'viewsPerRound' | 'transmitStepMs'
    >
  >
  onOutcome?(member: number, outcome: RoundOutcome): void
}): Promise<LocalOcaCommittee> {
  const { owner, logger, f } = params
  const epoch = params.epoch ?? 1
  const oracles = params.members.map((m) => privateKeyToAccount(m.oracleKey).address)
  const p2pKeys = await Promise.all(params.members.map(() => generateP2pKey()))
  const ports: number[] = []
  for (const _ of params.members) ports.push(await freePort())
  const committee = oracles.map((oracle, i) => ({
    oracle,
    peerId: peerIdOf(p2pKeys[i]!),
    addrs: [`/ip4/127.0.0.1/tcp/${ports[i]}`],
  }))
  const aggregator = getContractAddress({
    from: owner.account.address,
    nonce: BigInt(await owner.getTransactionCount({ address: owner.account.address })),
  })
  const configDigest = configDigestOf({ chainId: owner.chain.id, aggregator, oracles, f, epoch })

  const hosts: CommitteeHost[] = []
  const members: OcaMember[] = []
  const stop = async () => {
    for (const m of members) await m.stop().catch(() => {})
    for (const h of hosts) await h.stop().catch(() => {})
  }
  try {
    const opened = await Promise.all(
      params.members.map(async (m, i) => {
        const repo = createOcaRepository(
          m.db,
          createSealer(await openSealingKey(m.db, m.password, { scryptN: 2 ** 12 })),
        )
        const host = await createCommitteeHost(
          { logger },
          {
            privateKey: p2pKeys[i]!,
            oracle: oracles[i]!,
            committee,
            configDigest,
            listen: [`/ip4/127.0.0.1/tcp/${ports[i]}`],
            backoff: { initialMs: 50, maxMs: 500 },
          },
        )
        hosts.push(host)
        return { repo, host }
      }),
    )
    const keys = await Promise.all(
      opened.map(({ host, repo }) =>
        ensureGroupKey(
          { host, store: repo, logger },
          { configDigest, oracles, f, phaseTimeoutMs: 5_000 },
        ),
      ),
    )
    const groupKey = toPublicKey(parsePoint(keys[0]!.groupKey))
    const deployed = await deployContract(owner, {
      name: 'ThresholdAggregator',
      abi: ThresholdAggregatorAbi,
      bytecode: ThresholdAggregatorBytecode,
      args: [
        groupKey.x,
        groupKey.parity,
        oracles,
        f,
        epoch,
        params.minAnswer ?? 1n,
        params.maxAnswer ?? 10n ** 30n,
        params.decimals,
        params.description,
      ],
    })
    if (getAddress(deployed) !== getAddress(aggregator)) {
      throw new Error(
        `the aggregator landed at ${deployed}, not at ${aggregator} the DKG was bound to`,
      )
    }
    for (const [i, { repo, host }] of opened.entries()) {
      const m = params.members[i]!
      const account = privateKeyToAccount(m.oracleKey)
      const sender = await createChainClient({
        rpcUrl: params.rpcUrl,
        privateKey: m.oracleKey,
        pollingInterval: 20,
      })
      members.push(
        await createOcaMember(
          {
            logger,
            host,
            store: repo,
            observe: m.observe,
            signObservation: (digest) => account.signMessage({ message: { raw: digest } }),
            latestRound: () => readLatestRound(owner, aggregator),
            transmit: async (report, signature) => {
              await sendTransmit(sender, aggregator, report, signature)
            },
            ...(params.onOutcome
              ? { onOutcome: (o: RoundOutcome) => params.onOutcome?.(i + 1, o) }
              : {}),
          },
          {
            configDigest,
            oracles,
            f,
            viewTimeoutMs: 1_500,
            phaseTimeoutMs: 3_000,
            roundsPerBatch: 4,
            viewsPerRound: f + 2,
            transmitStepMs: 1_000,
            ...params.timing,
          },
        ),
      )
    }
    // The first nonce batch before any round: its DKG sessions are the heaviest computation,
    // better not run while rounds are timing views.
    const ready = await Promise.all(members.map((m) => m.ensureNonces(1)))
    if (!ready.every(Boolean)) throw new Error('the committee could not make its first nonce batch')
  } catch (err) {
    await stop()
    throw err
  }

  return {
    aggregator,
    oracles,
    async playRound(round, timeoutMs = 20_000) {
      const from = await owner.getBlockNumber()
      await Promise.all(members.map((m) => m.startRound(round)))
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const logs = await owner.getLogs({ address: aggregator, fromBlock: from })
        const [updated] = parseEventLogs({
          abi: ThresholdAggregatorAbi,
          logs,
          eventName: 'AnswerUpdated',
        }).filter((e) => e.args.roundId === BigInt(round))
        if (updated) {
          const receipt = await owner.getTransactionReceipt({ hash: updated.transactionHash })
          return {
            answer: updated.args.current,
            gasUsed: receipt.gasUsed,
            transmitter: receipt.from,
          }
        }
        if (Date.now() > deadline)
          throw new Error(`round ${round} did not land within ${timeoutMs} ms`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    },
    stop,
  }
}

/**
 * A committee on this machine without a chain (benchmarks, tests): n members, each with its own
 * in-memory PGlite (or a given database), libp2p host on 127.0.0.1 and oracle key; the group key
 * by DKG over the network. `latestRound` and `transmit` default to an in-memory "chain" that
 * checks Σ against the group key exactly as the ThresholdAggregator does (one Schnorr
 * verification) and keeps the highest round, so fallback transmitters stand down as on chain.
 * Members are created by `start(i)` (all of them unless `startMembers` is false), so a test can
 * keep a member away and bring it in later.
 */
export type LocalMembersParams = {
  n: number
  f: number
  logger: Logger
  /** Default: a digest made of a random salt (no aggregator). */
  configDigest?: Hex
  /** Member i's database (closed by the caller); default an in-memory PGlite (closed by stop). */
  dbs?: Db[]
  /** Member i's observation; default a price moving with the round. */
  observe?(member: number, round: number): Promise<bigint>
  timing?: Partial<Omit<OcaMemberParams, 'configDigest' | 'oracles' | 'f'>>
  /** Key DKG phase timeout. Default 5 s. */
  keyPhaseTimeoutMs?: number
  /** Per-member dependencies added to (or replacing) the defaults: hooks, a chain. */
  memberDeps?(member: number): Partial<OcaMemberDeps>
  /** Where each host's `orakel_p2p_*` counters go. */
  metrics?(member: number): Registry | undefined
  /** Create every member right away. Default true. */
  startMembers?: boolean
}

export type LocalMembers = {
  configDigest: Hex
  oracles: Address[]
  /** Y, compressed. */
  groupKey: Hex
  /** Milliseconds the key DKG took (all members, over the network). */
  keyDkgMs: number
  hosts: CommitteeHost[]
  stores: OcaRepository[]
  /** Member i at members[i − 1], once started. */
  members: (OcaMember | undefined)[]
  /** Rounds the in-memory chain accepted, with the Σ and report (default transmit only). */
  transmitted: Map<number, { report: Report; signature: SchnorrSignature; member: number }>
  /** Creates member i (1-based) if it is not running. */
  start(member: number): Promise<OcaMember>
  stop(): Promise<void>
}

export async function startLocalMembers(params: LocalMembersParams): Promise<LocalMembers> {
  const { n, f, logger } = params
  const accounts = Array.from({ length: n }, () => privateKeyToAccount(generatePrivateKey()))
  const oracles = accounts.map((a) => a.address)
  const configDigest = params.configDigest ?? keccak256(toHex(`local committee ${randomSalt()}`))
  const p2pKeys = await Promise.all(accounts.map(() => generateP2pKey()))
  const ports: number[] = []
  for (const _ of accounts) ports.push(await freePort())
  const committee = oracles.map((oracle, i) => ({
    oracle,
    peerId: peerIdOf(p2pKeys[i]!),
    addrs: [`/ip4/127.0.0.1/tcp/${ports[i]}`],
  }))
  const ownDbs: Db[] = []
  const hosts: CommitteeHost[] = []
  const stores: OcaRepository[] = []
  const members: (OcaMember | undefined)[] = Array(n).fill(undefined)
  const transmitted = new Map<
    number,
    { report: Report; signature: SchnorrSignature; member: number }
  >()
  let latest = 0
  const stop = async () => {
    for (const m of members) await m?.stop().catch(() => {})
    for (const h of hosts) await h.stop().catch(() => {})
    for (const db of ownDbs) await db.close().catch(() => {})
  }
  let groupKey: Hex
  let keyDkgMs: number
  try {
    for (let i = 0; i < n; i++) {
      let db = params.dbs?.[i]
      if (!db) {
        db = await openDatabase()
        ownDbs.push(db)
      }
      stores.push(
        createOcaRepository(
          db,
          createSealer(await openSealingKey(db, 'local committee', { scryptN: 2 ** 10 })),
        ),
      )
      const registry = params.metrics?.(i + 1)
      hosts.push(
        await createCommitteeHost(
          { logger, ...(registry ? { metrics: registry } : {}) },
          {
            privateKey: p2pKeys[i]!,
            oracle: oracles[i]!,
            committee,
            configDigest,
            listen: [`/ip4/127.0.0.1/tcp/${ports[i]}`],
            backoff: { initialMs: 50, maxMs: 500 },
          },
        ),
      )
    }
    const started = performance.now()
    const keys = await Promise.all(
      hosts.map((host, i) =>
        ensureGroupKey(
          { host, store: stores[i]!, logger },
          { configDigest, oracles, f, phaseTimeoutMs: params.keyPhaseTimeoutMs ?? 5_000 },
        ),
      ),
    )
    keyDkgMs = performance.now() - started
    groupKey = keys[0]!.groupKey
  } catch (err) {
    await stop()
    throw err
  }
  const publicKey = toPublicKey(parsePoint(groupKey))

  async function start(i: number): Promise<OcaMember> {
    const existing = members[i - 1]
    if (existing) return existing
    const account = accounts[i - 1]!
    const member = await createOcaMember(
      {
        logger,
        host: hosts[i - 1]!,
        store: stores[i - 1]!,
        observe: (round) =>
          params.observe
            ? params.observe(i, round)
            : Promise.resolve(3_000_00000000n + BigInt(round) * 1_000_000n + BigInt(i) * 7n),
        signObservation: (digest) => account.signMessage({ message: { raw: digest } }),
        latestRound: async () => latest,
        transmit: async (report, signature) => {
          if (report.round <= latest) throw new Error(`round ${report.round} is not newer`)
          if (!verify(publicKey, reportMessage(configDigest, report), signature))
            throw new Error(`round ${report.round}: the signature does not verify`)
          latest = report.round
          transmitted.set(report.round, { report, signature, member: i })
        },
        ...params.memberDeps?.(i),
      },
      {
        configDigest,
        oracles,
        f,
        viewTimeoutMs: 1_500,
        phaseTimeoutMs: 3_000,
        roundsPerBatch: 4,
        transmitStepMs: 200,
        ...params.timing,
      },
    )
    members[i - 1] = member
    return member
  }

  try {
    if (params.startMembers !== false) for (let i = 1; i <= n; i++) await start(i)
  } catch (err) {
    await stop()
    throw err
  }
  return {
    configDigest,
    oracles,
    groupKey,
    keyDkgMs,
    hosts,
    stores,
    members,
    transmitted,
    start,
    stop,
  }
}

function randomSalt(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(16)))
}
