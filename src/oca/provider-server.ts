import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from '../common.ts'
import { BaseError, errorMessage } from '../errors.ts'
import { decodeProviderMessage, type OcaProvider } from './provider.ts'

/**
 * The provider's HTTP endpoint (Algorithm 3 fed by nodes): members of an `offchainaggregation`
 * job with `providerURL` POST their signed provider messages (the JSON form of
 * `encodeProviderMessage`) here. `202` when taken, `400` naming what is malformed, `422` when the
 * provider refused it (unsigned, a closed round, …), `503` until `setProvider` gave it a provider
 * (its parameters — the group key and share keys — exist only after the committee's DKG), `413`
 * over 256 KiB. Listens on 127.0.0.1 unless told otherwise.
 */

export const MAX_PROVIDER_BODY_BYTES = 256 * 1024

export type ProviderServer = {
  url: string
  setProvider(provider: OcaProvider): void
  close(): Promise<void>
}

class BodyTooLarge extends BaseError {
  override name = 'BodyTooLarge'
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_PROVIDER_BODY_BYTES)
      throw new BodyTooLarge(`body over ${MAX_PROVIDER_BODY_BYTES} bytes`)
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

export async function serveProvider(params: {
  logger: Logger
  host?: string
  port?: number
  provider?: OcaProvider
}): Promise<ProviderServer> {
  let provider = params.provider
  const log = params.logger.child({ component: 'oca-provider-server' })
  const server = createServer((req, res) => {
    const reply = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    }
    void (async () => {
      if (req.method !== 'POST') return reply(405, { error: 'POST a provider message' })
      let text: string
      try {
        text = await readBody(req)
      } catch (err) {
        return reply(err instanceof BodyTooLarge ? 413 : 400, { error: errorMessage(err) })
      }
      let message: ReturnType<typeof decodeProviderMessage>
      try {
        message = decodeProviderMessage(text)
      } catch (err) {
        return reply(400, {
          error: errorMessage(err),
          details: err instanceof BaseError ? err.details : undefined,
        })
      }
      if (!provider) return reply(503, { error: 'the provider is not ready (no group key yet)' })
      if (await provider.receive(message)) return reply(202, { accepted: true })
      return reply(422, { error: 'refused by the provider (see its log)' })
    })().catch((err: unknown) => {
      log.error({ err: errorMessage(err) }, 'provider request failed')
      if (!res.headersSent) reply(500, { error: 'internal error' })
    })
  })
  await new Promise<void>((resolve) =>
    server.listen(params.port ?? 0, params.host ?? '127.0.0.1', resolve),
  )
  const { address, port } = server.address() as AddressInfo
  return {
    url: `http://${address}:${port}/`,
    setProvider(p) {
      provider = p
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
