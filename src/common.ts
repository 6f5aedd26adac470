import pino, { type Logger } from 'pino'
import { Registry } from 'prom-client'
import type { Db } from './store/db.ts'

/**
 * What every long-lived part of the node receives: configuration, a structured logger, the
 * metrics registry and the database. Passed in, never reached through globals.
 */
export type Common<Config = unknown> = {
  config: Config
  logger: Logger
  metrics: Registry
  db: Db
}

export type { Logger }

/** A pino logger writing JSON lines to stderr (or nothing, for tests). */
export function createLogger(
  params: { level?: string; silent?: boolean; name?: string } = {},
): Logger {
  if (params.silent) return pino({ level: 'silent' })
  return pino(
    {
      level: params.level ?? 'info',
      name: params.name ?? 'orakel',
      // Never log secrets even if a caller passes them by mistake.
      redact: {
        paths: [
          'password',
          'privateKey',
          'token',
          'secret',
          '*.password',
          '*.privateKey',
          '*.token',
          '*.secret',
        ],
        censor: '[redacted]',
      },
    },
    pino.destination(2),
  )
}

export function createMetrics(): Registry {
  return new Registry()
}
