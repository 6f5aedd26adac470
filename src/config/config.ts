/**
 * The node's configuration: a TOML config file (`node.toml`), a TOML secrets file and a few
 * environment variables, validated into one `NodeConfig`.
 *
 * - Every key has a default, so an empty (or absent) config file is valid.
 * - Unknown keys are errors, named by their full path (`chain.rpcUrl: unknown key`).
 * - Secrets (`database.url`, `keystore.password`, `api.adminPassword`) belong in the secrets
 *   file or the environment. `keystore.password` and `api.adminPassword` in the config file are
 *   errors; `database.url` is accepted there for URLs without a password.
 * - Precedence, highest first: environment, secrets file, config file, defaults.
 * - Every problem is collected and reported at once in a `ConfigError`, as `file:path: message`.
 *   Messages never quote a secret's value.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parse as parseToml, stringify as stringifyToml, TomlError } from 'smol-toml'
import { z } from 'zod'
import { BaseError } from '../errors.ts'

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export type NodeConfig = {
  node: {
    /** Where the node keeps its state (the embedded database in `<dataDir>/db`). */
    dataDir: string
  }
  chain: {
    id: number
    rpcUrls: string[]
    pollIntervalMs: number
    finalityDepth: number
    maxLagBlocks: number
  }
  database: {
    /** A Postgres URL; `""` means the embedded PGlite database in `<dataDir>/db`. Secret. */
    url: string
  }
  http: { host: string; port: number }
  p2p: {
    /** The multiaddr the committee host of an offchainaggregation job listens on. */
    listen: string
    /** Multiaddrs registered on chain for peers to dial; empty means the address bound. */
    announce: string[]
  }
  log: { level: LogLevel }
  txm: {
    feeCapGwei: number
    bumpAfterBlocks: number
    bumpPercent: number
    confirmations: number
    defaultGasLimit: number
    /** Most transactions per key sent and not yet confirmed; the rest wait their turn. */
    maxInFlight: number
  }
  jobs: { maxTaskDurationMs: number; minIncomingConfirmations: number }
  security: { allowUnrestrictedNetworkAccess: boolean }
  api: {
    loginRateLimitPerMinute: number
    sessionTtlHours: number
    /** Secret: from the secrets file or ORAKEL_API_PASSWORD. */
    adminPassword: string | undefined
  }
  keystore: {
    /** Secret: from the secrets file or ORAKEL_KEYSTORE_PASSWORD. */
    password: string | undefined
  }
}

export type ConfigIssue = {
  /** The file (or `env`) the problem is in. */
  file: string
  /** Dotted key path, `[i]` for array items; empty for the whole file. */
  path: string
  message: string
}

export class ConfigError extends BaseError {
  override name = 'ConfigError'
  readonly issues: ConfigIssue[]
  constructor(issues: ConfigIssue[]) {
    super(`invalid configuration (${issues.length} ${issues.length === 1 ? 'issue' : 'issues'})`, {
      metaMessages: issues.map(formatIssue),
    })
    this.issues = issues
  }
}

export function formatIssue(issue: ConfigIssue): string {
  return issue.path
    ? `${issue.file}:${issue.path}: ${issue.message}`
    : `${issue.file}: ${issue.message}`
}

/** Environment variables that override secrets. */
export const ENV = {
  databaseUrl: 'DATABASE_URL',
  keystorePassword: 'ORAKEL_KEYSTORE_PASSWORD',
  apiPassword: 'ORAKEL_API_PASSWORD',
} as const

export const REDACTED = '[redacted]'

// ---------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v)
  if (Array.isArray(v)) return 'an array'
  if (v instanceof Date) return 'a date'
  if (v === undefined) return 'nothing'
  return 'a table'
}

const integer = (min: number, max: number, hint = '') => {
  const message = (iss: { input?: unknown }) =>
    `expected an integer from ${min} to ${max}${hint}, got ${show(iss.input)}`
  return z
    .number({ error: message })
    .refine((v) => Number.isInteger(v) && v >= min && v <= max, { error: message })
}

const positive = (max: number) => {
  const message = (iss: { input?: unknown }) =>
    `expected a number above 0 and at most ${max}, got ${show(iss.input)}`
  return z.number({ error: message }).refine((v) => v > 0 && v <= max, { error: message })
}

const bool = () => z.boolean({ error: (iss) => `expected true or false, got ${show(iss.input)}` })

const nonEmptyString = () => {
  const message = (iss: { input?: unknown }) =>
    `expected a non-empty string, got ${show(iss.input)}`
  return z.string({ error: message }).refine((v) => v.length > 0, { error: message })
}

function isUrl(v: string, protocols: string[]): boolean {
  try {
    return protocols.includes(new URL(v).protocol)
  } catch {
    return false
  }
}

// HTTP only: the node's RPC pool speaks JSON-RPC over HTTP (a ws:// URL was accepted here
// once and then failed every request; see docs/decisions.md).
const RPC_PROTOCOLS = ['http:', 'https:']
const POSTGRES_PROTOCOLS = ['postgres:', 'postgresql:']

const rpcUrl = () => {
  // Not echoed: RPC URLs often carry an API key.
  const message = 'expected an http(s):// URL (WebSocket URLs are not supported)'
  return z.string({ error: message }).refine((v) => isUrl(v, RPC_PROTOCOLS), { error: message })
}

/** A TCP multiaddr a libp2p host listens on or is dialled at. */
const multiaddr = () => {
  const message = (iss: { input?: unknown }) =>
    `expected a multiaddr like /ip4/127.0.0.1/tcp/6690, got ${show(iss.input)}`
  return z
    .string({ error: message })
    .refine((v) => /^\/(ip4|ip6|dns4|dns6|dns)\/[^/]+\/tcp\/\d{1,5}$/.test(v), { error: message })
}

/** A Postgres URL or `""`. Never echoed: it may hold a password. */
const databaseUrl = () => {
  const message = 'expected a postgres:// or postgresql:// URL (or "" for the embedded database)'
  return z
    .string({ error: message })
    .refine((v) => v === '' || isUrl(v, POSTGRES_PROTOCOLS), { error: message })
}

const secretString = () => {
  const message = 'expected a non-empty string'
  return z.string({ error: message }).refine((v) => v.length > 0, { error: message })
}

/** A table whose keys all have defaults: absent means `{}`, parsed like one (so defaults apply). */
const section = <T extends z.ZodRawShape>(shape: T) =>
  // Every key has a default, so `{}` is a valid input; the generic shape cannot show it.
  z.strictObject(shape).prefault({} as never)

const FileConfigSchema = z.strictObject({
  node: section({ dataDir: nonEmptyString().default('.orakel') }),
  chain: section({
    id: integer(1, Number.MAX_SAFE_INTEGER).default(31337),
    rpcUrls: z
      .array(rpcUrl(), { error: (iss) => `expected an array of URLs, got ${show(iss.input)}` })
      .min(1, { error: 'expected at least one URL' })
      .default(['http://127.0.0.1:8545']),
    pollIntervalMs: integer(10, 3_600_000).default(500),
    finalityDepth: integer(1, 10_000).default(50),
    maxLagBlocks: integer(0, 100_000).default(5),
  }),
  database: section({ url: databaseUrl().default('') }),
  http: section({
    host: nonEmptyString().default('127.0.0.1'),
    port: integer(0, 65535, ' (0 picks a free port)').default(6688),
  }),
  p2p: section({
    listen: multiaddr().default('/ip4/127.0.0.1/tcp/6690'),
    announce: z
      .array(multiaddr(), {
        error: (iss) => `expected an array of multiaddrs, got ${show(iss.input)}`,
      })
      .default([]),
  }),
  log: section({
    level: z
      .enum(LOG_LEVELS, {
        error: (iss) => `expected one of ${LOG_LEVELS.join(', ')}, got ${show(iss.input)}`,
      })
      .default('info'),
  }),
  txm: section({
    feeCapGwei: positive(1_000_000).default(500),
    bumpAfterBlocks: integer(1, 1000).default(3),
    // Nodes (geth, anvil) drop a replacement transaction that raises the fee by less than 10%.
    bumpPercent: integer(10, 1000, ' (nodes reject replacements bumped by less than 10%)').default(
      20,
    ),
    confirmations: integer(1, 1000).default(1),
    defaultGasLimit: integer(21_000, 100_000_000).default(500_000),
    // A geth node keeps 16 executable transactions per account for sure, more while its pool
    // has room; a node that sends faster than its chain mines raises this, or adds keys.
    maxInFlight: integer(1, 100_000).default(64),
  }),
  jobs: section({
    maxTaskDurationMs: integer(1, 3_600_000).default(30_000),
    minIncomingConfirmations: integer(0, 10_000).default(0),
  }),
  security: section({ allowUnrestrictedNetworkAccess: bool().default(false) }),
  api: section({
    loginRateLimitPerMinute: integer(1, 10_000).default(5),
    sessionTtlHours: integer(1, 8760).default(24),
  }),
})

const SecretsSchema = z.strictObject({
  database: z.strictObject({ url: databaseUrl().optional() }).optional(),
  keystore: z.strictObject({ password: secretString().optional() }).optional(),
  api: z.strictObject({ adminPassword: secretString().optional() }).optional(),
})

type FileConfig = z.infer<typeof FileConfigSchema>
type Secrets = z.infer<typeof SecretsSchema>

/** Where each secret lives, and the variable that overrides it. */
const SECRET_KEYS: { section: string; key: string; env: string }[] = [
  { section: 'database', key: 'url', env: ENV.databaseUrl },
  { section: 'keystore', key: 'password', env: ENV.keystorePassword },
  { section: 'api', key: 'adminPassword', env: ENV.apiPassword },
]
/** Secrets that may not be written in the config file. */
const CONFIG_FORBIDDEN = SECRET_KEYS.filter((s) => s.section !== 'database')

const DEFAULTS: FileConfig = FileConfigSchema.parse({})

/** The configuration with every default and no secrets. */
export function defaultConfig(): NodeConfig {
  return merge(structuredClone(DEFAULTS), {})
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

export type LoadConfigParameters = {
  /** The config file (`node.toml`). Defaults only when absent. */
  configFile?: string | undefined
  /** The secrets file. */
  secretsFile?: string | undefined
  /** The environment to read overrides from. Default `process.env`. */
  env?: NodeJS.ProcessEnv | undefined
}

/** Reads, validates and merges the config file, the secrets file and the environment. */
export async function loadConfig(params: LoadConfigParameters = {}): Promise<NodeConfig> {
  const issues: ConfigIssue[] = []
  const read = async (file: string | undefined) => {
    if (file === undefined) return undefined
    try {
      return await readFile(file, 'utf8')
    } catch (err) {
      const code = (err as { code?: unknown }).code
      issues.push({
        file,
        path: '',
        message: `cannot read the file${typeof code === 'string' ? ` (${code})` : ''}`,
      })
      return undefined
    }
  }
  const configText = await read(params.configFile)
  const secretsText = await read(params.secretsFile)
  let config: NodeConfig | undefined
  try {
    config = parseConfig({
      configText,
      secretsText,
      configName: params.configFile,
      secretsName: params.secretsFile,
      env: params.env,
    })
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    issues.push(...err.issues)
  }
  if (issues.length || config === undefined) throw new ConfigError(issues)
  return config
}

export type ParseConfigParameters = {
  configText?: string | undefined
  secretsText?: string | undefined
  /** Names used in issues. Default `config` and `secrets`. */
  configName?: string | undefined
  secretsName?: string | undefined
  env?: NodeJS.ProcessEnv | undefined
}

/** `loadConfig` on texts already read. */
export function parseConfig(params: ParseConfigParameters = {}): NodeConfig {
  const configName = params.configName ?? 'config'
  const secretsName = params.secretsName ?? 'secrets'
  const env = params.env ?? process.env
  const issues: ConfigIssue[] = []

  // The config file.
  let fileConfig: FileConfig | undefined
  const raw =
    params.configText === undefined ? {} : parseTomlText(params.configText, configName, issues)
  if (raw !== undefined) {
    const table = { ...raw }
    for (const s of CONFIG_FORBIDDEN) {
      const sec = table[s.section]
      if (!isTable(sec) || !(s.key in sec)) continue
      issues.push({
        file: configName,
        path: `${s.section}.${s.key}`,
        message: `is a secret: move it to the secrets file (or set ${s.env})`,
      })
      const { [s.key]: _, ...rest } = sec
      if (Object.keys(rest).length === 0 && !(s.section in DEFAULTS)) delete table[s.section]
      else table[s.section] = rest
    }
    const result = FileConfigSchema.safeParse(table)
    if (result.success) fileConfig = result.data
    else issues.push(...zodIssues(result.error, configName, configKeyHint))
  }

  // The secrets file.
  let secrets: Secrets = {}
  if (params.secretsText !== undefined) {
    const rawSecrets = parseTomlText(params.secretsText, secretsName, issues, { quote: false })
    if (rawSecrets !== undefined) {
      const result = SecretsSchema.safeParse(rawSecrets)
      if (result.success) secrets = result.data
      else issues.push(...zodIssues(result.error, secretsName, secretKeyHint))
    }
  }

  // The environment.
  const fromEnv = (name: string) => {
    const v = env[name]
    return v === undefined || v === '' ? undefined : v
  }
  const envDatabaseUrl = fromEnv(ENV.databaseUrl)
  if (envDatabaseUrl !== undefined && !isUrl(envDatabaseUrl, POSTGRES_PROTOCOLS)) {
    issues.push({
      file: 'env',
      path: ENV.databaseUrl,
      message: 'expected a postgres:// or postgresql:// URL',
    })
  }

  if (issues.length || fileConfig === undefined) throw new ConfigError(issues)

  return merge(fileConfig, {
    databaseUrl: envDatabaseUrl ?? secrets.database?.url,
    keystorePassword: fromEnv(ENV.keystorePassword) ?? secrets.keystore?.password,
    apiAdminPassword: fromEnv(ENV.apiPassword) ?? secrets.api?.adminPassword,
  })
}

function merge(
  file: FileConfig,
  s: {
    databaseUrl?: string | undefined
    keystorePassword?: string | undefined
    apiAdminPassword?: string | undefined
  },
): NodeConfig {
  return {
    ...file,
    database: { url: s.databaseUrl ?? file.database.url },
    api: { ...file.api, adminPassword: s.apiAdminPassword },
    keystore: { password: s.keystorePassword },
  }
}

type TomlTable = Record<string, unknown>

function isTable(v: unknown): v is TomlTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date)
}

/** Parses TOML; a syntax error becomes an issue (quoting the lines unless `quote` is false). */
export function parseTomlText(
  text: string,
  file: string,
  issues: ConfigIssue[],
  options: { quote?: boolean } = {},
): TomlTable | undefined {
  try {
    return parseToml(text) as TomlTable
  } catch (err) {
    if (!(err instanceof TomlError)) throw err
    // The parser's message ends with a quote of the offending lines; keep it only where the
    // file holds no secrets.
    const [first = 'invalid TOML'] = err.message.split('\n')
    const reason = first.replace(/^Invalid TOML document: /, '')
    const quote = options.quote !== false && err.codeblock ? `\n${err.codeblock.trimEnd()}` : ''
    issues.push({
      file,
      path: '',
      message: `invalid TOML at line ${err.line}, column ${err.column}: ${reason}${quote}`,
    })
    return undefined
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`
    else out += out ? `.${String(p)}` : String(p)
  }
  return out
}

/** zod's issues as config issues naming the key path (`hint` may suggest a known key). */
export function zodIssues(
  error: z.ZodError,
  file: string,
  hint: (path: string[], key: string) => string = () => '',
): ConfigIssue[] {
  const out: ConfigIssue[] = []
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const at = issue.path.map(String)
      for (const key of issue.keys) {
        out.push({
          file,
          path: formatPath([...issue.path, key]),
          message: `unknown key${hint(at, key)}`,
        })
      }
      continue
    }
    out.push({ file, path: formatPath(issue.path), message: issue.message })
  }
  return out
}

function configKeyHint(path: string[], key: string): string {
  const known = keysAt(DEFAULTS, path)
  const guess = closest(key, known)
  return guess ? ` (did you mean ${guess}?)` : ''
}

function secretKeyHint(path: string[], key: string): string {
  if (keysAt(DEFAULTS, path).includes(key))
    return ': not a secret; it belongs in the config file (the secrets file holds only database.url, keystore.password and api.adminPassword)'
  const known =
    path.length === 0
      ? SECRET_KEYS.map((s) => s.section)
      : SECRET_KEYS.filter((s) => s.section === path[0]).map((s) => s.key)
  const guess = closest(key, known)
  return guess ? ` (did you mean ${guess}?)` : ''
}

function keysAt(root: unknown, path: string[]): string[] {
  let node = root
  for (const p of path) {
    if (!isTable(node)) return []
    node = node[p]
  }
  return isTable(node) ? Object.keys(node) : []
}

/** The known key nearest to `key` (case-insensitive, at most one edit per 3 characters). */
function closest(key: string, known: string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Math.max(1, Math.floor(key.length / 3)) + 1
  for (const k of known) {
    const d = distance(key.toLowerCase(), k.toLowerCase())
    if (d < bestDistance) {
      best = k
      bestDistance = d
    }
  }
  return best
}

/** Edit distance counting a swap of neighbours as one edit (optimal string alignment). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  )
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1)
      d[i]![j] = v
    }
  }
  return d[a.length]![b.length]!
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

/** A URL with its password (userinfo or `?password=`) replaced by `[redacted]`. */
export function redactUrl(url: string): string {
  if (url === '') return url
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return REDACTED
  }
  const marker = 'orakelredactedmarker'
  const params = ['password', 'sslpassword'].filter((name) => u.searchParams.has(name))
  if (!u.password && params.length === 0) return url
  if (u.password) u.password = marker
  for (const name of params) u.searchParams.set(name, marker)
  return u.toString().replaceAll(marker, REDACTED)
}

/**
 * The configuration as a plain object safe to print: passwords replaced by `"[redacted]"`
 * (unset ones left out), passwords inside URLs hidden.
 */
export function redactConfig(config: NodeConfig): Record<string, Record<string, unknown>> {
  const { keystore, api, database, chain, ...rest } = config
  const { adminPassword, ...apiRest } = api
  const out: Record<string, Record<string, unknown>> = {
    ...structuredClone(rest),
    chain: { ...chain, rpcUrls: chain.rpcUrls.map(redactUrl) },
    database: { url: redactUrl(database.url) },
    api: { ...apiRest, ...(adminPassword !== undefined ? { adminPassword: REDACTED } : {}) },
  }
  if (keystore.password !== undefined) out.keystore = { password: REDACTED }
  // Keep the documented section order.
  const order = [...Object.keys(DEFAULTS), 'keystore']
  return Object.fromEntries(order.filter((k) => k in out).map((k) => [k, out[k]!]))
}

/** The effective configuration as TOML, secrets redacted. */
export function renderConfig(config: NodeConfig): string {
  return `${stringifyToml(redactConfig(config)).trim()}\n`
}

/** Where `openDatabase` should look: the Postgres URL, else PGlite in `<dataDir>/db`. */
export function databaseParams(config: NodeConfig): { url?: string; dataDir?: string } {
  return config.database.url
    ? { url: config.database.url }
    : { dataDir: join(config.node.dataDir, 'db') }
}
