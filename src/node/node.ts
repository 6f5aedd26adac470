import { mkdir } from 'node:fs/promises'
import { ApiError, createApiServer } from '../api/server.ts'
import {
  parseOracle,
  parseSpecId,
  ReputationQueryError,
  readReputation,
} from '../chain/reputation.ts'
import { createRpcPool, isTransportError } from '../chain/rpc-pool.ts'
import { type Common, createLogger, createMetrics, type Logger } from '../common.ts'
import { databaseParams, type NodeConfig } from '../config/config.ts'
import { BaseError } from '../errors.ts'
import { createEthKeyStore } from '../keys/eth-keys.ts'
import { createSealer } from '../oca/sealing.ts'
import { createHttpClient } from '../pipeline/http-client.ts'
import { parseJobSpec } from '../pipeline/job-spec.ts'
import type { TaskRegistry } from '../pipeline/pipeline.ts'
import { createBridgeTask } from '../pipeline/tasks/bridge.ts'
import { viemChainReader } from '../pipeline/tasks/ethcall.ts'
import { TASKS } from '../pipeline/tasks/index.ts'
import { createBridgeRepository } from '../store/bridges.ts'
import { createCommitRevealRepository } from '../store/commitreveal.ts'
import { createCredentialRepository } from '../store/credentials.ts'
import { openDatabase } from '../store/db.ts'
import { createJobRepository, type Job } from '../store/jobs.ts'
import { startMaintenance } from '../store/maintenance.ts'
import { createOcaRepository, type OcaRepository, openSealingKey } from '../store/oca.ts'
import { ensureP2pKey } from '../store/p2p-key.ts'
import { createRunRepository } from '../store/runs.ts'
import { createTxm } from '../txm/index.ts'
import { type BidderEvent, createBidderService, slaMemberJob } from './bidder.ts'
import { checkJobBridges } from './bridge-schemas.ts'
import { createAggregatorReader } from './commitreveal/aggregator.ts'
import { type CommitRevealEvent, createCommitRevealService } from './commitreveal.ts'
import {
  createDirectRequestService,
  type DirectRequestEvent,
  type DirectRequestJob,
  specIdOf,
} from './directrequest.ts'
import { createLogBroadcaster } from './log-broadcaster.ts'
import { createOffchainAggregationService, type OcaJobEvent } from './offchainaggregation.ts'
import { resumeRun } from './resume.ts'

/**
 * The oracle node: the database, keys, RPC pool, log broadcaster, transaction manager, the job
 * services and the REST API, wired together from one configuration.
 */

/** A reputation query's bad parameter as a 400 naming it. */
function asBadRequest<T>(fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (err instanceof ReputationQueryError)
      throw new ApiError(400, err.shortMessage, { details: err.details })
    throw err
  }
}
const parseSpecIdForApi = (text: string) => asBadRequest(() => parseSpecId(text))
const parseOracleForApi = (text: string, what: string) =>
  asBadRequest(() => parseOracle(text, what))

export class NodeStartError extends BaseError {
  override name = 'NodeStartError'
}

export type StartNodeParameters = {
  config: NodeConfig
  logger?: Logger
  /** Things as they happen (requests, runs, transactions), e.g. for `npm start`. */
  onEvent?: (event: DirectRequestEvent) => void
  /** The same for commitreveal jobs (rounds, commits, reveals, answers). */
  onCommitRevealEvent?: (event: CommitRevealEvent) => void
  /** The same for offchainaggregation jobs (registration, DKG, rounds). */
  onOcaEvent?: (event: OcaJobEvent) => void
  /** The same for bidder jobs (proposals skipped, bids, selection, finalize, settle). */
  onBidderEvent?: (event: BidderEvent) => void
  /** scrypt cost of the keystores the node makes (libp2p key, OCA sealing key); tests lower it. */
  scryptN?: number
}

export type OracleNode = {
  config: NodeConfig
  common: Common<NodeConfig>
  apiUrl: string
  apiToken: string
  /** Addresses of the keys the node sends from. */
  keys: string[]
  stop(): Promise<void>
}

export async function startNode(params: StartNodeParameters): Promise<OracleNode> {
  const { config } = params
  const logger = params.logger ?? createLogger({ level: config.log.level })
  await mkdir(config.node.dataDir, { recursive: true })
  const db = await openDatabase(databaseParams(config))
  const common: Common<NodeConfig> = { config, logger, metrics: createMetrics(), db }
  const cleanup: (() => Promise<void>)[] = [() => db.close()]
  const stop = async () => {
    for (const fn of cleanup.reverse())
      await fn().catch((err: unknown) => logger.error({ err }, 'stop failed'))
  }
  try {
    // Keys: every key must open with the node's password, or the node does not start.
    const keyStore = createEthKeyStore(db)
    const stored = await keyStore.list()
    let keys = new Map<`0x${string}`, `0x${string}`>()
    if (stored.length > 0) {
      if (!config.keystore.password) {
        throw new NodeStartError('the node has keys but no keystore password', {
          details: 'set [keystore] password in the secrets file or ORAKEL_KEYSTORE_PASSWORD',
        })
      }
      keys = await keyStore.unlockAll(config.keystore.password)
    } else {
      logger.warn(
        'the node has no keys: it can run jobs but not send transactions (orakel keys eth create)',
      )
    }

    const pool = createRpcPool({
      urls: config.chain.rpcUrls,
      chainId: config.chain.id,
      maxLagBlocks: config.chain.maxLagBlocks,
      logger,
    })
    const client = await pool.client()

    const txm = createTxm(common, {
      chainId: config.chain.id,
      // Each request goes to the pool's current healthy endpoint.
      client: {
        request: async (args) => {
          const current = await pool.client()
          try {
            return await current.request(args as Parameters<typeof current.request>[0])
          } catch (err) {
            if (isTransportError(err)) pool.reportFailure(current, err)
            throw err
          }
        },
      },
      keys,
      feeCapWei: BigInt(Math.round(config.txm.feeCapGwei * 1e9)),
      bumpAfterBlocks: config.txm.bumpAfterBlocks,
      bumpPercent: config.txm.bumpPercent,
      confirmations: config.txm.confirmations,
      defaultGasLimit: BigInt(config.txm.defaultGasLimit),
      maxInFlight: config.txm.maxInFlight,
    })
    txm.start(config.chain.pollIntervalMs)
    cleanup.push(() => txm.stop())
    cleanup.push(startMaintenance(common))

    const broadcaster = createLogBroadcaster(common, {
      chainId: config.chain.id,
      pool,
      pollIntervalMs: config.chain.pollIntervalMs,
      finalityDepth: config.chain.finalityDepth,
    })

    // The bridge task tells asynchronous adapters where to answer: this node's API.
    let apiUrl = ''
    const tasks: TaskRegistry = new Map([
      ...TASKS,
      ['bridge', createBridgeTask({ responseURL: (ctx) => `${apiUrl}/v2/resume/${ctx.runId}` })],
    ])
    const bridges = createBridgeRepository(db)

    const http = createHttpClient({
      allowUnrestricted: config.security.allowUnrestrictedNetworkAccess,
    })
    cleanup.push(async () => http.close())
    const runs = createRunRepository(db)
    const jobs = createJobRepository(db)
    const taskDeps = {
      http,
      allowUnrestrictedNetworkAccess: config.security.allowUnrestrictedNetworkAccess,
      bridges: bridges.registry(),
      chain: viemChainReader(client),
      evmChainID: BigInt(config.chain.id),
    }
    const directRequest = createDirectRequestService(common, {
      subscribe: (sub) => broadcaster.subscribe(sub),
      runs,
      enqueueTx: (req) => txm.enqueue(req),
      taskDeps,
      defaultGasLimit: BigInt(config.txm.defaultGasLimit),
      defaultTimeoutMs: config.jobs.maxTaskDurationMs,
      defaultMinConfirmations: config.jobs.minIncomingConfirmations,
      onEvent: params.onEvent,
    })
    cleanup.push(() => directRequest.stop())
    const commitReveal = createCommitRevealService(common, {
      chainId: config.chain.id,
      subscribe: (sub) => broadcaster.subscribe(sub),
      rounds: createCommitRevealRepository(db),
      txm,
      aggregator: createAggregatorReader(() => pool.client()),
      keys: [...keys.keys()],
      taskDeps,
      defaultTimeoutMs: config.jobs.maxTaskDurationMs,
      defaultMinConfirmations: config.jobs.minIncomingConfirmations,
      tickMs: Math.max(config.chain.pollIntervalMs, 100),
      onEvent: params.onCommitRevealEvent,
    })
    cleanup.push(() => commitReveal.stop())
    const needPassword = () => {
      if (!config.keystore.password) {
        throw new NodeStartError('offchainaggregation jobs need the keystore password', {
          details: 'the libp2p key and the OCA key shares are sealed under it',
        })
      }
      return config.keystore.password
    }
    const scrypt = params.scryptN === undefined ? {} : { scryptN: params.scryptN }
    let ocaStore: Promise<OcaRepository> | undefined
    let p2pKey: Promise<Awaited<ReturnType<typeof ensureP2pKey>>> | undefined
    const offchainAggregation = createOffchainAggregationService(common, {
      chainId: config.chain.id,
      client: () => pool.client(),
      txm,
      keys,
      // Opened once (scrypt is deliberately slow); a failure is not kept, so a fixed password
      // works on the next job.
      p2pKey: () => {
        p2pKey ??= (async () => ensureP2pKey(db, needPassword(), scrypt))()
        p2pKey.catch(() => {
          p2pKey = undefined
        })
        return p2pKey
      },
      store: () => {
        ocaStore ??= (async () =>
          createOcaRepository(db, createSealer(await openSealingKey(db, needPassword(), scrypt))))()
        ocaStore.catch(() => {
          ocaStore = undefined
        })
        return ocaStore
      },
      p2p: config.p2p,
      taskDeps,
      defaultTimeoutMs: config.jobs.maxTaskDurationMs,
      ...(params.onOcaEvent ? { onEvent: params.onOcaEvent } : {}),
    })
    cleanup.push(() => offchainAggregation.stop())

    // Bidder jobs serve the SLAs they win through the node's commitreveal job of the SLA's spec
    // (docs/protocol/market.md, "The node's bidder job").
    const commitRevealJobOf = (specId: `0x${string}`) => {
      for (const job of byId.values()) {
        if (job.parsed.spec.type !== 'commitreveal') continue
        if (specIdOf(job.externalJobID) === specId.toLowerCase()) return job.id
      }
      return undefined
    }
    const bidder = createBidderService(common, {
      chainId: config.chain.id,
      subscribe: (sub) => broadcaster.subscribe(sub),
      txm,
      client: () => pool.client(),
      keys: [...keys.keys()],
      defaultMinConfirmations: config.jobs.minIncomingConfirmations,
      tickMs: Math.max(config.chain.pollIntervalMs, 100),
      canServe: (specId) => commitRevealJobOf(specId) !== undefined,
      serve: (specId, aggregator, fromBlock) => {
        const jobId = commitRevealJobOf(specId)
        return jobId !== undefined && commitReveal.serveAggregator(jobId, aggregator, fromBlock)
      },
      unserve: (specId, aggregator) => {
        const jobId = commitRevealJobOf(specId)
        if (jobId !== undefined) void commitReveal.stopServing(jobId, aggregator)
      },
      // OCA-mode SLAs: a committee member in the offchainaggregation service, under a key of its
      // own, observing through the commitreveal job's pipeline.
      oca: {
        start: (member) => {
          const jobId = commitRevealJobOf(member.specId)
          const job = jobId === undefined ? undefined : byId.get(jobId)
          const made = job && slaMemberJob(job, member)
          if (!made) return false
          offchainAggregation.addJob(made.job, made.options)
          return true
        },
        status: (key) => offchainAggregation.status(key),
        stop: (key) => void offchainAggregation.removeJob(key),
      },
      ...(params.onBidderEvent ? { onEvent: params.onBidderEvent } : {}),
    })
    cleanup.push(() => bidder.stop())

    const activate = (job: Job): DirectRequestJob => {
      const parsed = parseJobSpec(job.specToml, tasks)
      const active = { id: job.id, externalJobID: job.externalJobID, name: job.name, parsed }
      if (parsed.spec.type === 'directrequest') directRequest.addJob(active)
      if (parsed.spec.type === 'commitreveal') commitReveal.addJob(active)
      if (parsed.spec.type === 'offchainaggregation') offchainAggregation.addJob(active)
      if (parsed.spec.type === 'bidder') bidder.addJob(active)
      return active
    }
    const byId = new Map<bigint, DirectRequestJob>()
    for (const job of await jobs.active()) {
      try {
        byId.set(job.id, activate(job))
      } catch (err) {
        logger.error(
          { job_id: String(job.id), err },
          'a stored job no longer parses; it is not run',
        )
      }
    }
    // Runs that were unfinished when the node stopped pick up from their recorded tasks; runs
    // suspended on an asynchronous adapter wait for its PATCH /v2/resume.
    for (const run of await runs.listUnfinished()) {
      const job = byId.get(run.jobId)
      if (!job || run.pendingTask !== undefined) continue
      logger.info({ job_id: String(run.jobId), run_id: run.runId }, 'resuming run')
      directRequest.resume(job, run.runId, run.inputs as Record<string, unknown>, run.previous)
    }

    await broadcaster.start()
    cleanup.push(() => broadcaster.stop())

    const credentials = createCredentialRepository(db)
    const apiToken = await credentials.ensureApiToken(config.node.dataDir)
    const api = await createApiServer(common, {
      host: config.http.host,
      port: config.http.port,
      adminPassword: config.api.adminPassword,
      loginRateLimitPerMinute: config.api.loginRateLimitPerMinute,
      sessionTtlHours: config.api.sessionTtlHours,
      tasks,
      checkJob: (parsed) => checkJobBridges(parsed, { bridges, http, logger }),
      onJobCreated: (job) => {
        byId.set(job.id, activate(job))
      },
      resume: (runId, token, body) =>
        resumeRun({ runs, bridges, byId, directRequest, logger }, runId, token, body),
      onJobDeleted: (job) => {
        directRequest.removeJob(job.id)
        void commitReveal.removeJob(job.id)
        void offchainAggregation.removeJob(job.id)
        void bidder.removeJob(job.id)
        byId.delete(job.id)
      },
      jobStatus: (id) => offchainAggregation.status(id),
      reputation: async (q) => {
        const specId = parseSpecIdForApi(q.specId)
        const [view] = await readReputation(
          await pool.client(),
          parseOracleForApi(q.contract, 'contract'),
          [parseOracleForApi(q.oracle, 'oracle')],
          specId,
        )
        return { reputation: view }
      },
      status: async () => ({
        chainId: config.chain.id,
        head: broadcaster.head()?.toString(),
        rpc: pool.status(),
        keys: [...keys.keys()],
        jobs: byId.size,
      }),
    })
    apiUrl = api.url
    cleanup.push(() => api.close())
    logger.info({ api: api.url, chain_id: config.chain.id, keys: [...keys.keys()] }, 'node started')
    return { config, common, apiUrl: api.url, apiToken, keys: [...keys.keys()], stop }
  } catch (err) {
    await stop()
    throw err
  }
}
