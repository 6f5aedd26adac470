import { z } from 'zod'
import { ConfigError, type ConfigIssue } from '../config/config.ts'
import { AdapterError } from './errors.ts'

/**
 * Credentials for the APIs an adapter calls. They come from the adapter's secrets (a file the
 * operator writes, values may name environment variables), never from a request: a job spec is
 * public, and whatever it could put in a header it could also send elsewhere.
 *
 *   [[credentials]]
 *   url = "https://api.example.com/v1/"          # applies to URLs under this prefix
 *   headers = { "X-Api-Key" = "${EXAMPLE_KEY}" }  # ${NAME}: from the environment
 *   query = { apikey = "${EXAMPLE_KEY}" }
 *
 * An entry applies to a request URL with the same scheme, host and port whose path starts with
 * the entry's path; the longest matching prefix wins. Its headers are dropped if a redirect
 * leaves that origin (see `HttpRequest.sensitiveHeaders`).
 */

export type Credential = {
  url: string
  headers: Record<string, string>
  query: Record<string, string>
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

export const CredentialsSchema = z
  .array(
    z.strictObject({
      url: z.string().refine((v) => /^https?:\/\//i.test(v) && URL.canParse(v), {
        error: 'expected an http(s) URL prefix',
      }),
      headers: z
        .record(z.string().regex(HEADER_NAME), z.string(), {
          error: (iss) => (iss.code === 'invalid_key' ? 'not a valid header name' : undefined),
        })
        .default({}),
      query: z.record(z.string(), z.string()).default({}),
    }),
  )
  .default([])

/** A secrets file holding only credentials. */
export const SecretsFileSchema = z.strictObject({ credentials: CredentialsSchema })

/**
 * Replaces `${NAME}` in every credential value with the environment variable; a missing or
 * empty variable is a ConfigError naming the entry (never the value).
 */
export function expandCredentials(
  list: readonly Credential[],
  env: NodeJS.ProcessEnv,
  file: string,
): Credential[] {
  const issues: ConfigIssue[] = []
  const expand = (value: string, path: string) =>
    value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
      const found = env[name]
      if (found === undefined || found === '') {
        issues.push({ file, path, message: `environment variable ${name} is not set` })
        return ''
      }
      return found
    })
  const out = list.map((c, i) => ({
    url: c.url,
    headers: Object.fromEntries(
      Object.entries(c.headers).map(([k, v]) => [k, expand(v, `credentials[${i}].headers.${k}`)]),
    ),
    query: Object.fromEntries(
      Object.entries(c.query).map(([k, v]) => [k, expand(v, `credentials[${i}].query.${k}`)]),
    ),
  }))
  for (const [i, c] of out.entries()) {
    for (const [k, v] of Object.entries(c.headers)) {
      if (/[\r\n\0]/.test(v)) {
        issues.push({
          file,
          path: `credentials[${i}].headers.${k}`,
          message: 'contains a line break',
        })
      }
    }
  }
  if (issues.length > 0) throw new ConfigError(issues)
  return out
}

/** The entry for `url` (longest matching prefix), if any. */
export function credentialFor(list: readonly Credential[], url: URL): Credential | undefined {
  let best: Credential | undefined
  let bestLength = -1
  for (const c of list) {
    const prefix = new URL(c.url)
    if (prefix.origin !== url.origin || !url.pathname.startsWith(prefix.pathname)) continue
    if (prefix.pathname.length > bestLength) {
      best = c
      bestLength = prefix.pathname.length
    }
  }
  return best
}

/** Header names that carry credentials. */
const CREDENTIAL_NAME =
  /^(authorization|proxy-authorization|cookie)$|key|token|secret|auth|session|password|signature/i

/**
 * Checks headers a request asks for: names must be valid, values single-line, and none may
 * carry credentials (`Authorization`, `Cookie`, or a name with key/token/secret/auth/session/
 * password/signature in it) — those come from the adapter's secrets only. 400 otherwise, naming
 * the header.
 */
export function checkRequestHeaders(
  headers: Record<string, unknown> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers ?? {})) {
    const path = `data.headers.${name}`
    if (!HEADER_NAME.test(name)) {
      throw new AdapterError(`${path}: not a valid header name`, { statusCode: 400 })
    }
    if (CREDENTIAL_NAME.test(name)) {
      throw new AdapterError(
        `${path}: credentials may not come from the request; the adapter adds them from its secrets`,
        { statusCode: 400 },
      )
    }
    if (typeof value !== 'string' || /[\r\n\0]/.test(value)) {
      throw new AdapterError(`${path}: must be a single-line string`, { statusCode: 400 })
    }
    out[name] = value
  }
  return out
}
