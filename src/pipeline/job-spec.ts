import { createHash } from 'node:crypto'
import { parse as parseToml } from 'smol-toml'
import { getAddress, isAddress, isHex, stringToHex } from 'viem'
import { z } from 'zod'
import { BaseError } from '../errors.ts'
import { formatDecimal, parseDecimal } from './decimal.ts'
import { renderDot } from './dot.ts'
import { parseDuration } from './params.ts'
import {
  buildPipeline,
  type Pipeline,
  PipelineError,
  type PipelineIssue,
  type TaskRegistry,
} from './pipeline.ts'

/**
 * Job specs in Chainlink's TOML format: the shared fields, each job type's own fields, and the
 * pipeline in `observationSource`. A spec is validated, normalised and hashed; the hash does
 * not change with formatting, comments, key order or the order of DOT statements.
 */

export type SpecIssue = { line: number; column: number; message: string }

export class JobSpecError extends BaseError {
  override name = 'JobSpecError'
  readonly issues: SpecIssue[]
  constructor(issues: SpecIssue[]) {
    super(`the job spec has ${issues.length} error(s)`, {
      metaMessages: issues.map(
        (i) => `${i.line === undefined ? '' : `${i.line}:${i.column}: `}${i.message}`,
      ),
    })
    this.issues = issues
  }
}

const address = z
  .string()
  .refine((s) => isAddress(s, { strict: false }), 'must be an address (0x + 40 hex digits)')
  .transform((s) => getAddress(s))
const bigintLike = z
  .union([
    z.string().regex(/^\d+$/, 'must be a whole number'),
    z.number().int().nonnegative(),
    z.bigint(),
  ])
  .transform((v) => BigInt(v))
const duration = z.string().refine((s) => {
  try {
    parseDuration(s)
    return true
  } catch {
    return false
  }
}, 'must be a duration like 500ms, 10s or 1m30s')
const uuid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a UUID')
  .transform((s) => s.toLowerCase())

const common = {
  schemaVersion: z.literal(1, 'must be 1'),
  name: z.string().max(255).optional(),
  externalJobID: uuid.optional(),
  maxTaskDuration: duration.optional(),
  gasLimit: z.number().int().positive().optional(),
  forwardingAllowed: z.boolean().optional(),
  observationSource: z.string().min(1, 'must not be empty'),
}

/** The shared fields of a job type without a pipeline. */
const { observationSource: _pipelineOnly, ...withoutPipeline } = common

const directRequest = z
  .object({
    ...common,
    type: z.literal('directrequest'),
    contractAddress: address,
    evmChainID: bigintLike.optional(),
    minIncomingConfirmations: z.number().int().min(0).max(1000).optional(),
    requesters: z.array(address).optional(),
    minContractPaymentLinkJuels: bigintLike.optional(),
  })
  .strict()

/** A duration of at least `minMs` (and at most a day), e.g. `"1s"`, `"1m30s"`. */
const durationAtLeast = (minMs: number, hint: string) =>
  duration.refine((s) => {
    try {
      const ms = parseDuration(s)
      return ms >= minMs && ms <= 86_400_000
    } catch {
      return true // reported by `duration`
    }
  }, `must be at least ${hint} and at most 24h`)

/** A percentage as an exact decimal string (`0.5`, TOML number or string), at least 0. */
const percent = z.union([z.number(), z.string()]).transform((v, ctx) => {
  try {
    const d = parseDecimal(v, 'deviationThreshold')
    if (d.digits < 0n) throw new Error('negative')
    return formatDecimal(d)
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a percentage of at least 0, e.g. 0.5' })
    return z.NEVER
  }
})

const FEED_ONLY = ['deviationThreshold', 'heartbeat', 'pollPeriod'] as const

/**
 * `commitreveal` (whitepaper §4.2, Algorithm 1): the node is a committee member of a
 * CommitRevealAggregator at `contractAddress`; the pipeline's one final task gives the integer
 * it commits to and reveals. `feed = true` also watches the feed and starts rounds on a
 * deviation or a heartbeat (docs/protocol/commit-reveal.md).
 */
const commitReveal = z
  .object({
    ...common,
    type: z.literal('commitreveal'),
    contractAddress: address,
    evmChainID: bigintLike.optional(),
    minIncomingConfirmations: z.number().int().min(0).max(1000).optional(),
    feed: z.boolean().default(false),
    deviationThreshold: percent.optional(),
    heartbeat: durationAtLeast(1000, '1s').optional(),
    pollPeriod: durationAtLeast(100, '100ms').optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.feed) return
    for (const key of FEED_ONLY) {
      if (spec[key] !== undefined) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'is only used with feed = true' })
      }
    }
  })

/** A libp2p multiaddr on TCP: `/ip4/<addr>/tcp/<port>` (or ip6/dns4/dns6). */
const multiaddrString = z
  .string()
  .regex(
    /^\/(ip4|ip6|dns4|dns6|dns)\/[^/]+\/tcp\/\d{1,5}$/,
    'must be a multiaddr like /ip4/127.0.0.1/tcp/6690',
  )

/**
 * `offchainaggregation` (whitepaper Appendix A, Algorithm 2): the node is a committee member of
 * a ThresholdAggregator at `contractAddress` — which may not exist yet: the committee makes its
 * group key by DKG first, bound to the config digest of (chain, contractAddress, oracles, f,
 * configVersion), and the aggregator is deployed with it. The members' libp2p identities come
 * from the OracleRegistry at `registryAddress`. Rounds start on a deviation or a heartbeat; the
 * pipeline's one final task gives the member's observation (docs/protocol/oca.md, "The node's
 * job").
 */
const offchainAggregation = z
  .object({
    ...common,
    type: z.literal('offchainaggregation'),
    contractAddress: address,
    registryAddress: address,
    evmChainID: bigintLike.optional(),
    oracles: z.array(address).min(4, 'must list at least 4 oracles (n ≥ 3f+1, f ≥ 1)').max(31),
    f: z.number().int().min(1).max(10),
    configVersion: z.number().int().min(1).max(4_294_967_295).default(1),
    transmitterAddress: address.optional(),
    p2pListen: multiaddrString.optional(),
    deviationThreshold: percent.optional(),
    heartbeat: durationAtLeast(1000, '1s').optional(),
    pollPeriod: durationAtLeast(100, '100ms').optional(),
    viewTimeout: durationAtLeast(100, '100ms').optional(),
    dkgPhaseTimeout: durationAtLeast(100, '100ms').optional(),
    transmitStep: durationAtLeast(100, '100ms').optional(),
    roundsPerBatch: z.number().int().min(1).max(64).optional(),
    // Where the members' provider messages go (Algorithm 3: the provider's HTTP endpoint).
    providerURL: z
      .string()
      .refine((v) => {
        try {
          return ['http:', 'https:'].includes(new URL(v).protocol)
        } catch {
          return false
        }
      }, 'must be an http(s) URL')
      .optional(),
    // A committee change: the previous configuration, whose members reshare the group key.
    previousContractAddress: address.optional(),
    previousOracles: z.array(address).min(4).max(31).optional(),
    previousF: z.number().int().min(1).max(10).optional(),
    previousConfigVersion: z.number().int().min(1).max(4_294_967_295).optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const previous = [
      'previousContractAddress',
      'previousOracles',
      'previousF',
      'previousConfigVersion',
    ] as const
    const given = previous.filter((k) => spec[k] !== undefined)
    if (given.length > 0 && given.length < previous.length) {
      for (const k of previous)
        if (spec[k] === undefined)
          ctx.addIssue({
            code: 'custom',
            path: [k],
            message: `is needed with ${given.join(', ')} (a committee change names the whole previous configuration)`,
          })
    }
    if (spec.previousOracles && spec.previousF !== undefined) {
      const m = spec.previousOracles.length
      if (m < 3 * spec.previousF + 1)
        ctx.addIssue({
          code: 'custom',
          path: ['previousF'],
          message: `${m} previous oracles tolerate at most f = ${Math.floor((m - 1) / 3)} (n ≥ 3f+1)`,
        })
    }
    const n = spec.oracles.length
    if (n >= 4 && n < 3 * spec.f + 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['f'],
        message: `${n} oracles tolerate at most f = ${Math.floor((n - 1) / 3)} (n ≥ 3f+1)`,
      })
    }
    const seen = new Set<string>()
    for (const [i, o] of spec.oracles.entries()) {
      if (seen.has(o))
        ctx.addIssue({ code: 'custom', path: ['oracles', i], message: `${o} is listed twice` })
      seen.add(o)
    }
    if (
      spec.transmitterAddress !== undefined &&
      !seen.has(spec.transmitterAddress) &&
      !spec.previousOracles?.includes(spec.transmitterAddress)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['transmitterAddress'],
        message: 'must be one of the oracles (or of the previous oracles)',
      })
    }
  })

/** A whole number of LINK juels, at most 2^96 − 1 (the market's amounts are uint96). */
const juels = bigintLike.refine((v) => v < 1n << 96n, 'must be below 2^96 juels')

/**
 * A spec id the bidder bids on: bytes32 hex, or the externalJobID (UUID) of a commitreveal job,
 * normalised as the node names a job's requests (its UUID without dashes, as bytes32).
 */
const specIdRef = z.string().transform((s, ctx) => {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s)) {
    return stringToHex(s.toLowerCase().replace(/-/g, ''), { size: 32 })
  }
  if (isHex(s) && s.length === 66) return s.toLowerCase() as `0x${string}`
  ctx.addIssue({
    code: 'custom',
    message: 'must be a bytes32 spec id (0x + 64 hex digits) or a job UUID',
  })
  return z.NEVER
})

/**
 * `bidder` (whitepaper §2.1, issue 8): the node watches the OrderMatching market at
 * `contractAddress` for SLA proposals on `specIds`, bids `price` with the SLA's penalty deposit
 * when its policy allows, and serves the SLAs it is selected for through its commitreveal job of
 * that spec (commit–reveal mode) or a committee member observing through that job's pipeline
 * (off-chain-aggregation mode, with the OracleRegistry at `registryAddress`). It has no
 * pipeline: the commitreveal job observes (docs/protocol/market.md, "The node's bidder job").
 */
const bidder = z
  .object({
    ...withoutPipeline,
    type: z.literal('bidder'),
    contractAddress: address,
    evmChainID: bigintLike.optional(),
    minIncomingConfirmations: z.number().int().min(0).max(1000).optional(),
    specIds: z.array(specIdRef).min(1, 'must list at least one spec id'),
    price: juels,
    maxDeposit: juels,
    maxConcurrent: z.number().int().min(1).max(1000),
    minPayment: juels.optional(),
    bidFrom: address.optional(),
    linkAddress: address.optional(),
    // The OracleRegistry of the committees of off-chain-aggregation SLAs (required to bid on them).
    registryAddress: address.optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const seen = new Set<string>()
    for (const [i, id] of spec.specIds.entries()) {
      if (seen.has(id))
        ctx.addIssue({ code: 'custom', path: ['specIds', i], message: `${id} is listed twice` })
      seen.add(id)
    }
  })

/** Job types and their schemas; later job types add themselves here. */
const SCHEMAS = {
  directrequest: directRequest,
  commitreveal: commitReveal,
  offchainaggregation: offchainAggregation,
  bidder,
} as const

/** Job types without a pipeline (no `observationSource`). */
const NO_PIPELINE: ReadonlySet<string> = new Set(['bidder'])

/** The pipeline of a job type that has none: no tasks. */
const emptyPipeline = (): Pipeline => ({
  tasks: [],
  byId: new Map(),
  terminals: [],
  graph: { name: undefined, nodes: [], edges: [] },
  warnings: [],
})

export type JobType = keyof typeof SCHEMAS
export type DirectRequestSpec = z.output<typeof directRequest>
export type CommitRevealSpec = z.output<typeof commitReveal>
export type OffchainAggregationSpec = z.output<typeof offchainAggregation>
export type BidderSpec = z.output<typeof bidder>
export type JobSpec = DirectRequestSpec | CommitRevealSpec | OffchainAggregationSpec | BidderSpec

/** Checks of the pipeline that depend on the job type (positions are in the DOT source). */
/**
 * A committee job's pipeline gives one value (the member's observation) and sends nothing
 * itself: one final task, no `ethtx`.
 */
const observationPipeline =
  (type: JobType, what: string, sends: string) =>
  (pipeline: Pipeline): PipelineIssue[] => {
    const issues: PipelineIssue[] = []
    if (pipeline.terminals.length > 1) {
      const [, second] = pipeline.terminals
      issues.push({
        line: second!.line,
        column: second!.column,
        message: `a ${type} pipeline must end in one task, whose value ${what}; it ends in ${pipeline.terminals.length}: ${pipeline.terminals.map((t) => t.id).join(', ')}`,
      })
    }
    for (const task of pipeline.tasks) {
      if (task.type === 'ethtx') {
        issues.push({
          line: task.line,
          column: task.column,
          message: `task ${task.id}: a ${type} job sends its own ${sends}; ethtx is not allowed`,
        })
      }
    }
    return issues
  }

const PIPELINE_CHECKS: Partial<Record<JobType, (pipeline: Pipeline) => PipelineIssue[]>> = {
  commitreveal: observationPipeline('commitreveal', 'is revealed', 'commit and reveal'),
  offchainaggregation: observationPipeline(
    'offchainaggregation',
    'is the observation',
    'transmission',
  ),
}

export type ParsedJob = {
  spec: JobSpec
  pipeline: Pipeline
  /** sha256 of the normalised spec, hex. */
  hash: string
  /** The normalised spec (canonical JSON) that was hashed. */
  normalized: string
  warnings: SpecIssue[]
}

/**
 * Where a top-level `key = ...` line is in the TOML text (its key's position); the start of
 * the file when the key is missing, so that every issue has a position.
 */
function keyPosition(text: string, key: string | undefined): { line: number; column: number } {
  if (key !== undefined) {
    const escaped = key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    const m = new RegExp(`^([ \\t]*)(?:${escaped}|"${escaped}")[ \\t]*=`, 'm').exec(text)
    if (m) return { line: text.slice(0, m.index).split('\n').length, column: m[1]!.length + 1 }
  }
  return { line: 1, column: 1 }
}

/** The line (1-based) where the `observationSource` string's content starts, if found. */
function observationSourceLine(
  text: string,
): { line: number; column: number; multiline: boolean } | undefined {
  const m = /^[ \t]*observationSource[ \t]*=[ \t]*("""|'''|"|')/m.exec(text)
  if (!m) return undefined
  const before = text.slice(0, m.index + m[0].length)
  const line = before.split('\n').length
  const multiline = m[1]!.length === 3
  // A multi-line string skips the newline right after its opening quotes.
  const rest = text.slice(m.index + m[0].length)
  if (multiline && rest.startsWith('\n')) return { line: line + 1, column: 1, multiline }
  return { line, column: before.length - before.lastIndexOf('\n'), multiline }
}

/** Parses, validates and hashes a TOML job spec. Throws JobSpecError listing every problem. */
export function parseJobSpec(text: string, registry: TaskRegistry): ParsedJob {
  let doc: Record<string, unknown>
  try {
    doc = parseToml(text) as Record<string, unknown>
  } catch (err) {
    const e = err as { line?: number; column?: number; message?: string }
    throw new JobSpecError([
      {
        line: e.line ?? 1,
        column: e.column ?? 1,
        message: `invalid TOML: ${(e.message ?? String(err)).split('\n')[0]}`,
      },
    ])
  }
  const type = doc.type
  const schema = typeof type === 'string' ? SCHEMAS[type as JobType] : undefined
  if (!schema) {
    const known = Object.keys(SCHEMAS).join(', ')
    throw new JobSpecError([
      {
        ...keyPosition(text, 'type'),
        message:
          type === undefined
            ? `"type" is missing (one of: ${known})`
            : `unknown job type ${JSON.stringify(type)} (one of: ${known})`,
      },
    ])
  }
  const issues: SpecIssue[] = []
  const result = schema.safeParse(doc)
  if (!result.success) {
    for (const issue of result.error.issues) {
      const where = issue.path.length ? `"${issue.path.join('.')}"` : 'spec'
      const keys =
        issue.code === 'unrecognized_keys' ? ` ${issue.keys.map((k) => `"${k}"`).join(', ')}` : ''
      const key = issue.code === 'unrecognized_keys' ? issue.keys[0] : issue.path[0]
      issues.push({
        ...keyPosition(text, typeof key === 'string' ? key : undefined),
        message:
          issue.code === 'unrecognized_keys'
            ? `unknown key(s)${keys} for a ${type} job`
            : `${where}: ${issue.message}`,
      })
    }
  }
  const noPipeline = NO_PIPELINE.has(type as string)
  let pipeline: Pipeline | undefined = noPipeline ? emptyPipeline() : undefined
  const source = typeof doc.observationSource === 'string' ? doc.observationSource : undefined
  if (source !== undefined && !noPipeline) {
    const origin = observationSourceLine(text)
    try {
      pipeline = buildPipeline(source, registry)
      const check = PIPELINE_CHECKS[type as JobType]
      for (const i of check ? check(pipeline) : []) issues.push(toFilePosition(i, origin))
    } catch (err) {
      if (!(err instanceof PipelineError)) throw err
      for (const i of err.issues) issues.push(toFilePosition(i, origin))
    }
  }
  if (issues.length > 0 || !result.success || !pipeline) throw new JobSpecError(issues)

  const spec = result.data
  const normalized = canonicalJson(
    noPipeline ? spec : { ...spec, observationSource: renderDot(pipeline.graph) },
  )
  const origin = observationSourceLine(text)
  return {
    spec,
    pipeline,
    hash: createHash('sha256').update(normalized).digest('hex'),
    normalized,
    warnings: pipeline.warnings.map((w) => toFilePosition(w, origin)),
  }
}

function toFilePosition(
  issue: PipelineIssue,
  origin: ReturnType<typeof observationSourceLine>,
): SpecIssue {
  if (!origin)
    return {
      ...issue,
      message: `observationSource ${issue.line}:${issue.column}: ${issue.message}`,
    }
  return {
    line: origin.line + issue.line - 1,
    column: issue.line === 1 ? origin.column + issue.column - 1 : issue.column,
    message: issue.message,
  }
}

/** JSON with sorted keys and bigints as strings: the same spec always gives the same text. */
export function canonicalJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (typeof v === 'bigint') return v.toString()
    if (Array.isArray(v)) return v.map(sort)
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
      )
    }
    return v
  }
  return JSON.stringify(sort(value))
}
