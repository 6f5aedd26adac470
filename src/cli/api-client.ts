import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import type { Command } from 'commander'
import { BaseError } from '../errors.ts'
import { Decimal } from '../pipeline/decimal.ts'
import { parseJson } from '../pipeline/json.ts'

/**
 * How the CLI talks to a running node's REST API.
 *
 * Base URL: `--url`, else `ORAKEL_API_URL`, else the URL of the saved login session, else
 * http://127.0.0.1:6688. Credential: `--token-file`, else `ORAKEL_API_TOKEN`, else the session
 * saved by `orakel login` (`~/.orakel/session`, or `ORAKEL_SESSION_FILE`), sent only to the
 * URL it was made for.
 */

export const DEFAULT_API_URL = 'http://127.0.0.1:6688'

export class ApiClientError extends BaseError {
  override name = 'ApiClientError'
  /** The HTTP status, when the API answered. */
  readonly status: number | undefined
  /** The API's `error.details`, as sent (a string, or e.g. a list of spec issues). */
  readonly apiDetails: unknown
  constructor(
    message: string,
    params: ConstructorParameters<typeof BaseError>[1] & {
      status?: number
      apiDetails?: unknown
    } = {},
  ) {
    super(message, params)
    this.status = params.status
    this.apiDetails = params.apiDetails
  }
}

export type ApiOptions = { url?: string | undefined; tokenFile?: string | undefined }

export type Session = { url: string; token: string; expiresAt?: string | undefined }

export type ApiClient = {
  url: string
  request<T = unknown>(
    method: string,
    path: string,
    init?: { body?: string; contentType?: string; auth?: boolean },
  ): Promise<T>
}

/** Adds `--url` and `--token-file` to a command that calls the API. */
export function withApiOptions(command: Command): Command {
  return command
    .option('--url <url>', `the node's API (default: ORAKEL_API_URL or ${DEFAULT_API_URL})`)
    .option(
      '--token-file <file>',
      'file holding an API token (default: ORAKEL_API_TOKEN, else the session from `orakel login`)',
    )
}

export function sessionFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.ORAKEL_SESSION_FILE || join(homedir(), '.orakel', 'session')
}

export async function readSession(
  env: NodeJS.ProcessEnv = process.env,
): Promise<Session | undefined> {
  const path = sessionFile(env)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new ApiClientError(`cannot read the session file ${path}`, { cause: err })
  }
  try {
    const s = JSON.parse(text) as Session
    if (typeof s.url === 'string' && typeof s.token === 'string') return s
  } catch {}
  throw new ApiClientError(`the session file ${path} is damaged`, {
    metaMessages: ['run `orakel login` again'],
  })
}

/** Saves a session where only this user can read it (file 0600 in a 0700 folder). */
export async function saveSession(
  session: Session,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const path = sessionFile(env)
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, `${JSON.stringify(session)}\n`, { mode: 0o600 })
  await chmod(tmp, 0o600)
  await rename(tmp, path)
  return path
}

export async function removeSession(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  await rm(sessionFile(env), { force: true })
}

const trimUrl = (url: string) => url.trim().replace(/\/+$/, '')

/** The API's base URL from the options, the environment and the saved session. */
export async function resolveApiUrl(
  options: ApiOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const url =
    options.url || env.ORAKEL_API_URL || (await readSession(env).catch(() => undefined))?.url
  const resolved = trimUrl(url || DEFAULT_API_URL)
  if (!/^https?:\/\/[^/]/.test(resolved)) {
    throw new ApiClientError(`invalid API URL ${JSON.stringify(resolved)}`, {
      details: 'use http://host:port or https://host',
    })
  }
  return resolved
}

/** A client with the credential the options and environment give. */
export async function createApiClientFrom(
  options: ApiOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ApiClient> {
  const url = await resolveApiUrl(options, env)
  let token: string | undefined
  let fromSession = false
  if (options.tokenFile) {
    token = await readFile(options.tokenFile, 'utf8').then(
      (s) => s.trim(),
      (cause: unknown) => {
        throw new ApiClientError(`cannot read the token file ${options.tokenFile}`, { cause })
      },
    )
  } else if (env.ORAKEL_API_TOKEN) {
    token = env.ORAKEL_API_TOKEN.trim()
  } else {
    const session = await readSession(env)
    if (session && trimUrl(session.url) === url) {
      token = session.token
      fromSession = true
    }
  }
  return createApiClient({ url, token, fromSession })
}

/** A client for `url`; `token` is sent as `Authorization: Bearer`. */
export function createApiClient(params: {
  url: string
  token?: string | undefined
  fromSession?: boolean
}): ApiClient {
  const url = trimUrl(params.url)
  return {
    url,
    async request<T>(
      method: string,
      path: string,
      init: { body?: string; contentType?: string; auth?: boolean } = {},
    ): Promise<T> {
      const headers: Record<string, string> = { accept: 'application/json' }
      if (init.auth !== false) {
        if (!params.token) {
          throw new ApiClientError('no API credential', {
            metaMessages: [
              'run `orakel login`, set ORAKEL_API_TOKEN, or pass --token-file <data dir>/api-token',
            ],
          })
        }
        headers.authorization = `Bearer ${params.token}`
      }
      if (init.body !== undefined) headers['content-type'] = init.contentType ?? 'application/json'
      let res: Response
      try {
        res = await fetch(`${url}${path}`, { method, headers, body: init.body })
      } catch (cause) {
        throw new ApiClientError(`cannot reach the Orakel API at ${url}`, {
          cause,
          retryable: true,
          metaMessages: ['is the node running? set the URL with --url or ORAKEL_API_URL'],
        })
      }
      const text = await res.text()
      let body: unknown
      try {
        body = text === '' ? undefined : parseJson(text)
      } catch {
        body = undefined
      }
      if (!res.ok) {
        const error = (body as { error?: { message?: unknown; details?: unknown } } | undefined)
          ?.error
        const message =
          typeof error?.message === 'string'
            ? error.message
            : `HTTP ${res.status} ${res.statusText}`
        const details = error?.details
        const hints: string[] = []
        if (Array.isArray(details)) {
          for (const d of details) hints.push(describeDetail(d))
        }
        if (res.status === 401) {
          hints.push(
            params.fromSession
              ? 'the saved session is no longer valid: run `orakel login` again'
              : 'check the API token (ORAKEL_API_TOKEN or --token-file) or run `orakel login`',
          )
        }
        const retryAfter = res.headers.get('retry-after')
        if (retryAfter) hints.push(`retry after ${retryAfter} s`)
        throw new ApiClientError(message, {
          status: res.status,
          apiDetails: details,
          details: typeof details === 'string' ? details : undefined,
          metaMessages: hints.length ? hints : undefined,
        })
      }
      if (body === undefined && text !== '') {
        throw new ApiClientError(`the API at ${url} answered with something other than JSON`)
      }
      return body as T
    },
  }
}

function describeDetail(d: unknown): string {
  if (d && typeof d === 'object') {
    const o = d as Record<string, unknown>
    if (typeof o.line === 'number') return `${o.line}:${o.column}: ${String(o.message)}`
    if (typeof o.path === 'string') return `${o.path || '(body)'}: ${String(o.message)}`
  }
  return typeof d === 'string' ? d : JSON.stringify(d)
}

const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON

/** Indented JSON with exact numbers (bigints and Decimals from `parseJson`). */
export function prettyJson(value: unknown): string {
  return JSON.stringify(
    value,
    function (this: Record<string, unknown>, key, v) {
      const original = this[key]
      if (typeof original === 'bigint' || original instanceof Decimal)
        return rawJSON(original.toString())
      return v
    },
    2,
  )
}

/** Rows as aligned columns; the first row is the header. */
export function table(rows: string[][]): string {
  const widths: number[] = []
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length)
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}
