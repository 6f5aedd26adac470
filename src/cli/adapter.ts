import { Command, InvalidArgumentError } from 'commander'
import type { z } from 'zod'
import { loadAdapterFile } from '../adapters/config.ts'
import { type Credential, expandCredentials, SecretsFileSchema } from '../adapters/credentials.ts'
import { createEventAdapter } from '../adapters/event.ts'
import { type FetchAdapterConfig, FetchAdapterConfigSchema } from '../adapters/fetch-json.ts'
import { createHttpJsonAdapter } from '../adapters/http-json.ts'
import { createPriceAdapter, PriceConfigSchema } from '../adapters/price.ts'
import type { Adapter } from '../adapters/sdk.ts'
import { DEFAULT_MAX_BODY_BYTES, serveAdapter } from '../adapters/server.ts'
import { createLogger } from '../common.ts'
import { LOG_LEVELS } from '../config/config.ts'
import { createHttpClient, type HttpClient } from '../pipeline/http-client.ts'
import {
  collect,
  OptionError,
  parseInteger,
  parsePort,
  readSecret,
  untilSignal,
} from './options.ts'

/**
 * `orakel adapter price|http-json|event`: runs a reference external adapter on 127.0.0.1 until
 * interrupted. Register it with the node as a bridge (`orakel bridges add <name> <url>`) and
 * give the adapter the bridge's tokens: the outgoing one with --token-file (the adapter then
 * requires it), the incoming one with --callback-token-file (sent with pending answers).
 */

type ServeOptions = {
  port: number
  tokenFile?: string
  callbackTokenFile?: string
  callbackOrigin: string[]
  maxBodyBytes: number
  logLevel: string
  secrets?: string
}

export const ADAPTER_ENV = {
  token: 'ORAKEL_ADAPTER_TOKEN',
  callbackToken: 'ORAKEL_ADAPTER_CALLBACK_TOKEN',
} as const

function withServeOptions(cmd: Command, port: number): Command {
  return cmd
    .option('--port <n>', 'port on 127.0.0.1 (0: any free port)', parsePort, port)
    .option('--secrets <file>', 'credentials for the APIs it calls (TOML, or JSON if *.json)')
    .option(
      '--token-file <file>',
      `require this bearer token on requests (or ${ADAPTER_ENV.token})`,
    )
    .option(
      '--callback-token-file <file>',
      `bearer token sent with pending answers to responseURL (or ${ADAPTER_ENV.callbackToken})`,
    )
    .option(
      '--callback-origin <url>',
      'accept responseURLs only at this origin (repeatable)',
      collect,
      [] as string[],
    )
    .option('--max-body-bytes <n>', 'largest request body', parseInteger(1), DEFAULT_MAX_BODY_BYTES)
    .option('--log-level <level>', `one of ${LOG_LEVELS.join(', ')}`, parseLogLevel, 'info')
}

function parseLogLevel(value: string): string {
  if (!(LOG_LEVELS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`expected one of ${LOG_LEVELS.join(', ')}.`)
  }
  return value
}

async function loadCredentials(file: string | undefined): Promise<Credential[]> {
  if (file === undefined) return []
  const { credentials } = await loadAdapterFile(file, SecretsFileSchema, { secret: true })
  return expandCredentials(credentials, process.env, file)
}

async function loadOptional<T>(file: string | undefined, schema: z.ZodType<T>): Promise<T> {
  return file === undefined ? schema.parse({}) : loadAdapterFile(file, schema)
}

/** Serves `adapter` until SIGINT/SIGTERM, printing its URL first. */
async function run(adapter: Adapter, opts: ServeOptions, http: HttpClient & { close(): void }) {
  for (const origin of opts.callbackOrigin) {
    if (!/^https?:\/\//i.test(origin) || !URL.canParse(origin)) {
      throw new OptionError(`--callback-origin: ${JSON.stringify(origin)} is not an http(s) URL`)
    }
  }
  const token = await readSecret(opts.tokenFile, '--token-file', ADAPTER_ENV.token)
  const callbackToken = await readSecret(
    opts.callbackTokenFile,
    '--callback-token-file',
    ADAPTER_ENV.callbackToken,
  )
  const logger = createLogger({ level: opts.logLevel, name: 'orakel-adapter' })
  const server = await serveAdapter(adapter, {
    port: opts.port,
    token,
    callbackToken,
    callbackOrigins: opts.callbackOrigin.length ? opts.callbackOrigin : undefined,
    maxBodyBytes: opts.maxBodyBytes,
    http,
    logger,
  })
  // Listen for the signal before printing: a caller may stop us as soon as it reads the URL.
  const stopped = untilSignal()
  console.log(
    `adapter ${adapter.name} listening on ${server.url} (POST / runs it, GET /schema describes it)`,
  )
  if (!token) logger.warn('no token: any local process may call this adapter (--token-file)')
  await stopped
  await server.close()
  http.close()
}

export function adapterCommand(): Command {
  const adapter = new Command('adapter').description(
    'Run a reference external adapter on 127.0.0.1',
  )

  withServeOptions(
    adapter
      .command('price')
      .description(
        'Median price of a pair over k configured sources; failures and outliers dropped',
      )
      .requiredOption(
        '--config <file>',
        'the sources and rules (TOML, or JSON if *.json); see docs/adapters.md',
      )
      .option(
        '--min-sources <n>',
        'override the config: independent sources needed',
        parseInteger(1),
      ),
    8091,
  ).action(async (opts: ServeOptions & { config: string; minSources?: number }) => {
    const config = await loadAdapterFile(opts.config, PriceConfigSchema)
    if (opts.minSources !== undefined) config.minSources = opts.minSources
    const credentials = await loadCredentials(opts.secrets)
    const http = createHttpClient()
    await run(createPriceAdapter({ config, http, credentials }), opts, http)
  })

  for (const [name, port, create, description] of [
    ['http-json', 8092, createHttpJsonAdapter, 'Fetch any JSON API and answer the value at a path'],
    [
      'event',
      8093,
      createEventAdapter,
      'Answer a yes/no question from a JSON source (a value compared with an operator)',
    ],
  ] as const) {
    withServeOptions(
      adapter
        .command(name)
        .description(description)
        .option('--config <file>', 'timeouts, size cap, network policy (TOML, or JSON if *.json)')
        .option(
          '--allow-unrestricted-network-access',
          'let requests reach private and loopback addresses',
        ),
      port,
    ).action(
      async (
        opts: ServeOptions & { config?: string; allowUnrestrictedNetworkAccess?: boolean },
      ) => {
        const config: FetchAdapterConfig = await loadOptional(opts.config, FetchAdapterConfigSchema)
        if (opts.allowUnrestrictedNetworkAccess) config.allowUnrestrictedNetworkAccess = true
        const credentials = await loadCredentials(opts.secrets)
        const http = createHttpClient({ allowUnrestricted: config.allowUnrestrictedNetworkAccess })
        await run(create({ config, http, credentials }), opts, http)
      },
    )
  }
  return adapter
}
