import { readFile } from 'node:fs/promises'
import type { z } from 'zod'
import { ConfigError, type ConfigIssue, parseTomlText, zodIssues } from '../config/config.ts'

/**
 * Reads an adapter's configuration or secrets file: TOML, or JSON when the name ends in
 * `.json`; validated by a zod schema. Every problem is reported at once as a ConfigError
 * (`file:path: message`). `secret` files are never quoted in messages.
 */
export async function loadAdapterFile<T>(
  file: string,
  schema: z.ZodType<T>,
  options: { secret?: boolean } = {},
): Promise<T> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    const code = (err as { code?: unknown }).code
    throw new ConfigError([
      {
        file,
        path: '',
        message: `cannot read the file${typeof code === 'string' ? ` (${code})` : ''}`,
      },
    ])
  }
  return parseAdapterText(text, file, schema, options)
}

/** `loadAdapterFile` on text already read; `file` names it (and picks JSON by its extension). */
export function parseAdapterText<T>(
  text: string,
  file: string,
  schema: z.ZodType<T>,
  options: { secret?: boolean } = {},
): T {
  const issues: ConfigIssue[] = []
  let value: unknown
  if (file.toLowerCase().endsWith('.json')) {
    try {
      value = JSON.parse(text)
    } catch (err) {
      issues.push({ file, path: '', message: `invalid JSON: ${(err as Error).message}` })
    }
  } else {
    value = parseTomlText(text, file, issues, { quote: options.secret !== true })
  }
  if (issues.length > 0) throw new ConfigError(issues)
  const parsed = schema.safeParse(value)
  if (!parsed.success) throw new ConfigError(zodIssues(parsed.error, file))
  return parsed.data
}
