import { z } from 'zod'
import { errorMessage } from '../errors.ts'
import { Decimal, formatDecimal, multiply, normalize, parseDecimal } from '../pipeline/decimal.ts'
import type { HttpClient } from '../pipeline/http-client.ts'
import {
  aggregateIndependent,
  DEFAULT_MIN_RELATIVE_MAD,
  DEFAULT_OUTLIER_THRESHOLD,
} from './aggregate.ts'
import type { Credential } from './credentials.ts'
import { AdapterError } from './errors.ts'
import { FetchJsonError, fetchJson, readPath } from './fetch-json.ts'
import { type Adapter, defineAdapter } from './sdk.ts'

/**
 * The `price` adapter (whitepaper §4.1): asks every configured source for a pair, drops the
 * sources that fail and the outliers (aggregate.ts), and answers the median of the independent
 * origins that remain, with a per-source audit. It refuses to answer when fewer than
 * `minSources` independent origins remain.
 *
 * Sources are the operator's (its configuration file), so they are trusted destinations: the
 * SSRF guard does not apply to them. The request only picks the pair, which is inserted into
 * the URL's path or query (never its host), URL-encoded.
 */

const HUNDRED = new Decimal(100n)
const SYMBOL = '[A-Za-z0-9.]{1,16}'
const PLACEHOLDERS = ['pair', 'base', 'quote'] as const

const path = z.union([z.string().min(1), z.array(z.string()).min(1)], {
  error: 'expected a path: "data,price" or ["data", "price"]',
})

const SourceSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, { error: 'letters, digits, ".", "_" and "-"' }),
  url: z.string().superRefine((url, ctx) => {
    const problem = checkUrlTemplate(url)
    if (problem) ctx.addIssue({ code: 'custom', message: problem })
  }),
  path,
  derivedFrom: z.string().min(1).optional(),
  timestampPath: path.optional(),
})

export const PriceConfigSchema = z
  .strictObject({
    minSources: z.int().min(1).default(3),
    timeoutMs: z.int().min(1).max(120_000).default(5000),
    maxAgeMs: z.int().min(1).default(300_000),
    outlierThreshold: z.number().positive().default(DEFAULT_OUTLIER_THRESHOLD),
    minRelativeMad: z.number().min(0).max(1).default(DEFAULT_MIN_RELATIVE_MAD),
    sources: z.array(SourceSchema).min(1, { error: 'at least one source is needed' }),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>()
    for (const [i, s] of config.sources.entries()) {
      if (seen.has(s.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['sources', i, 'name'],
          message: `duplicate source name ${s.name}`,
        })
      }
      seen.add(s.name)
    }
  })

export type PriceConfig = z.infer<typeof PriceConfigSchema>
export type PriceSource = PriceConfig['sources'][number]

/** Why a URL template is unusable, or undefined. */
function checkUrlTemplate(url: string): string | undefined {
  const unknown = [...url.matchAll(/\{([^}]*)\}/g)]
    .map((m) => m[1]!)
    .filter((p) => !(PLACEHOLDERS as readonly string[]).includes(p))
  if (unknown.length > 0)
    return `unknown placeholder {${unknown[0]}} (use {pair}, {base} or {quote})`
  const sample = fillTemplate(url, { pair: 'ETH-USD', base: 'ETH', quote: 'USD' })
  if (!/^https?:\/\//i.test(url) || !URL.canParse(sample)) return 'expected an http(s) URL template'
  const authority = url.replace(/^https?:\/\//i, '').split(/[/?#]/)[0]!
  if (authority.includes('{'))
    return 'placeholders may appear in the path or query only, not the host'
  return undefined
}

function fillTemplate(url: string, values: Record<(typeof PLACEHOLDERS)[number], string>): string {
  return url.replace(/\{(pair|base|quote)\}/g, (_m, k: keyof typeof values) =>
    encodeURIComponent(values[k]),
  )
}

export const PRICE_INPUT_SCHEMA = {
  type: 'object',
  description: 'The pair to price: {"pair": "ETH-USD"}, or {"base", "quote"}, or {"from", "to"}',
  properties: {
    pair: { type: 'string', pattern: `^${SYMBOL}[-/_]${SYMBOL}$` },
    base: { type: 'string', pattern: `^${SYMBOL}$` },
    quote: { type: 'string', pattern: `^${SYMBOL}$` },
    from: { type: 'string', pattern: `^${SYMBOL}$` },
    to: { type: 'string', pattern: `^${SYMBOL}$` },
  },
  anyOf: [{ required: ['pair'] }, { required: ['base', 'quote'] }, { required: ['from', 'to'] }],
  additionalProperties: false,
} as const

const positive = { type: 'number', exclusiveMinimum: 0 } as const
export const PRICE_OUTPUT_SCHEMA = {
  type: 'object',
  required: ['result', 'pair', 'minSources', 'usedOrigins', 'mad', 'cutoff', 'origins', 'sources'],
  properties: {
    result: positive,
    pair: { type: 'string' },
    minSources: { type: 'integer' },
    usedOrigins: { type: 'integer' },
    mad: { type: 'number', minimum: 0 },
    cutoff: { type: 'number', minimum: 0 },
    origins: {
      type: 'array',
      items: {
        type: 'object',
        required: ['origin', 'sources', 'value', 'deviation', 'status'],
        properties: {
          origin: { type: 'string' },
          sources: { type: 'array', items: { type: 'string' }, minItems: 1 },
          value: positive,
          deviation: { type: 'number' },
          status: { enum: ['used', 'outlier'] },
          note: { type: 'string' },
        },
      },
    },
    sources: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'origin', 'status', 'latencyMs'],
        properties: {
          name: { type: 'string' },
          origin: { type: 'string' },
          status: { enum: ['used', 'outlier', 'failed'] },
          value: positive,
          reason: { type: 'string' },
          latencyMs: { type: 'number', minimum: 0 },
        },
      },
    },
  },
} as const

type PriceInput = { pair?: string; base?: string; quote?: string; from?: string; to?: string }

/** One source's line in the reply. */
export type SourceReport = {
  name: string
  origin: string
  status: 'used' | 'outlier' | 'failed'
  value?: Decimal
  reason?: string
  latencyMs: number
}

export type PriceAdapterParameters = {
  config: PriceConfig
  http: HttpClient
  credentials?: readonly Credential[]
  /** Clock for staleness (tests). */
  now?: () => number
}

export function createPriceAdapter(params: PriceAdapterParameters): Adapter {
  const { config } = params
  const now = params.now ?? Date.now
  return defineAdapter<PriceInput>({
    name: 'price',
    description:
      'Median price of a pair over independent sources, failures and outliers dropped (whitepaper §4.1)',
    input: PRICE_INPUT_SCHEMA,
    output: PRICE_OUTPUT_SCHEMA,
    async run(input, ctx) {
      const [base, quote] = input.pair
        ? input.pair.split(/[-/_]/)
        : [input.base ?? input.from, input.quote ?? input.to]
      const names = { base: base!.toUpperCase(), quote: quote!.toUpperCase(), pair: '' }
      names.pair = `${names.base}-${names.quote}`
      const reports = await Promise.all(config.sources.map((s) => observe(s, names, ctx.signal)))
      const live = reports.filter((r) => r.status !== 'failed')
      const audit = (extra: Record<string, unknown>) => ({
        pair: names.pair,
        minSources: config.minSources,
        ...extra,
        sources: reports,
      })
      if (live.length === 0) {
        throw new AdapterError(`price for ${names.pair} refused: no source answered`, {
          statusCode: 502,
          details: dropped(reports),
          extra: audit({ usedOrigins: 0 }),
        })
      }
      const result = aggregateIndependent(
        live.map((r) => ({ name: r.name, origin: r.origin, value: r.value! })),
        { threshold: config.outlierThreshold, minRelativeMad: config.minRelativeMad },
      )
      const outlierOrigins = new Set(result.votes.filter((v) => v.outlier).map((v) => v.origin))
      const median = formatDecimal(result.median)
      for (const r of live) {
        if (!outlierOrigins.has(r.origin)) {
          r.status = 'used'
          continue
        }
        const vote = result.votes.find((v) => v.origin === r.origin)!
        const pct = formatDecimal(normalize(multiply(vote.deviation, HUNDRED)))
        const via =
          vote.sources.length > 1
            ? ` (the median of origin ${vote.origin}: ${vote.sources.join(', ')})`
            : ''
        r.status = 'outlier'
        r.reason = `outlier: ${formatDecimal(vote.value)}${via} is ${pct.startsWith('-') ? '' : '+'}${pct} % from the median ${median}, beyond the cutoff of ±${formatDecimal(result.cutoff)} (modified z-score > ${config.outlierThreshold})`
      }
      const origins = result.votes.map((v) => ({
        origin: v.origin,
        sources: v.sources,
        value: v.value,
        deviation: v.deviation,
        status: v.outlier ? 'outlier' : 'used',
        ...(v.sources.length > 1
          ? {
              note: `${v.sources.join(', ')} derive from ${v.origin}: counted as one source (their median)`,
            }
          : {}),
      }))
      const used = origins.filter((o) => o.status === 'used').length
      if (used < config.minSources) {
        throw new AdapterError(
          `price for ${names.pair} refused: ${used} independent source${used === 1 ? '' : 's'} left, minSources is ${config.minSources}`,
          {
            statusCode: 502,
            details: dropped(reports),
            extra: audit({ usedOrigins: used, origins }),
          },
        )
      }
      return {
        result: result.answer,
        pair: names.pair,
        minSources: config.minSources,
        usedOrigins: used,
        mad: result.mad,
        cutoff: result.cutoff,
        origins,
        sources: reports,
      }
    },
  })

  async function observe(
    source: PriceSource,
    names: { pair: string; base: string; quote: string },
    signal: AbortSignal,
  ): Promise<SourceReport> {
    const origin = source.derivedFrom ?? source.name
    const started = performance.now()
    const report = (r: Partial<SourceReport>): SourceReport => ({
      name: source.name,
      origin,
      status: 'failed',
      ...r,
      latencyMs: Math.round((performance.now() - started) * 10) / 10,
    })
    try {
      const { json } = await fetchJson({
        http: params.http,
        url: fillTemplate(source.url, names),
        credentials: params.credentials,
        trusted: true,
        timeoutMs: config.timeoutMs,
        signal,
      })
      let value: Decimal
      try {
        value = parseDecimal(readPath(json, source.path), 'the price')
      } catch (err) {
        return report({ reason: `failed: ${errorMessage(err)}` })
      }
      if (value.digits <= 0n)
        return report({ reason: `failed: the price ${formatDecimal(value)} is not positive` })
      if (source.timestampPath !== undefined) {
        const age = ageMs(readPath(json, source.timestampPath), now())
        if (age === undefined)
          return report({ value, reason: 'failed: the timestamp is not a time' })
        if (age > config.maxAgeMs) {
          return report({
            value,
            reason: `failed: stale, the price is ${Math.round(age / 1000)} s old (maxAgeMs ${config.maxAgeMs})`,
          })
        }
      }
      return report({ status: 'used', value })
    } catch (err) {
      const kind = err instanceof FetchJsonError ? err.kind : 'error'
      return report({ reason: `failed (${kind}): ${errorMessage(err)}` })
    }
  }
}

/** `name: reason; …` of every dropped source. */
function dropped(reports: readonly SourceReport[]): string {
  const lines = reports.filter((r) => r.status !== 'used').map((r) => `${r.name}: ${r.reason}`)
  return lines.length ? `dropped: ${lines.join('; ')}` : 'no source was dropped'
}

/** Age of a timestamp (ms or s since the epoch, or an ISO-8601 string), or undefined. */
function ageMs(value: unknown, now: number): number | undefined {
  let at: number
  if (typeof value === 'number') at = value < 1e11 ? value * 1000 : value
  else if (typeof value === 'string') at = Date.parse(value)
  else return undefined
  return Number.isFinite(at) ? Math.max(0, now - at) : undefined
}
