import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { BaseError } from '../errors.ts'
import type { Bridge, BridgeRegistry } from '../pipeline/tasks/bridge.ts'
import type { Db } from './db.ts'

/**
 * Bridges: named external adapters. Each gets two tokens when added: the outgoing token the
 * node sends to the adapter (stored, since the node needs it), and the incoming token the
 * adapter sends back with asynchronous answers (stored only as its sha256). Both are shown
 * once, by `add`. Names are case-insensitive and stored in lower case.
 */

export class BridgeError extends BaseError {
  override name = 'BridgeError'
}
/** Bad name, URL or confirmations. */
export class BridgeValidationError extends BridgeError {
  override name = 'BridgeValidationError'
}
export class BridgeExistsError extends BridgeError {
  override name = 'BridgeExistsError'
}

/** A bridge as listed: no secrets. */
export type BridgeInfo = {
  name: string
  url: string
  confirmations: number
  createdAt: Date
  updatedAt: Date
}

export type NewBridge = { name: string; url: string; confirmations?: number | undefined }

export type BridgeRepository = {
  /** Adds a bridge; the returned tokens are never available again. */
  add(
    bridge: NewBridge,
  ): Promise<{ bridge: BridgeInfo; outgoingToken: string; incomingToken: string }>
  list(): Promise<BridgeInfo[]>
  get(name: string): Promise<BridgeInfo | undefined>
  /** Removes a bridge; returns it, or undefined when there was none. */
  remove(name: string): Promise<BridgeInfo | undefined>
  /** Whether `token` is the bridge's incoming token (for asynchronous answers). */
  verifyIncoming(name: string, token: string): Promise<boolean>
  /** The registry the `bridge` task looks bridges up in (with the outgoing token). */
  registry(): BridgeRegistry
}

export const BRIDGE_NAME = /^[a-z0-9_-]{1,64}$/

/** The stored form of a bridge name; throws when it is not valid. */
export function normalizeBridgeName(name: string): string {
  const n = name.trim().toLowerCase()
  if (!BRIDGE_NAME.test(n)) {
    throw new BridgeValidationError(`invalid bridge name ${JSON.stringify(name)}`, {
      details: 'use 1 to 64 characters: letters, digits, "_" and "-" (names are case-insensitive)',
    })
  }
  return n
}

function validateUrl(url: string): string {
  let u: URL
  try {
    u = new URL(url.trim())
  } catch {
    throw new BridgeValidationError(`invalid bridge URL ${JSON.stringify(url)}`)
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new BridgeValidationError(`invalid bridge URL ${JSON.stringify(url)}`, {
      details: 'the URL must start with http:// or https://',
    })
  }
  return url.trim()
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')
const newToken = () => randomBytes(24).toString('base64url')

type BridgeRow = {
  name: string
  url: string
  outgoing_token: string
  incoming_token_hash: string
  confirmations: number
  created_at: Date
  updated_at: Date
}

const toInfo = (r: BridgeRow): BridgeInfo => ({
  name: r.name,
  url: r.url,
  confirmations: r.confirmations,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
})

export function createBridgeRepository(db: Db): BridgeRepository {
  const row = async (name: string): Promise<BridgeRow | undefined> => {
    const n = name.trim().toLowerCase()
    if (!BRIDGE_NAME.test(n)) return undefined
    const [r] = await db.query<BridgeRow>('SELECT * FROM bridges WHERE name = $1', [n])
    return r
  }

  return {
    async add(bridge) {
      const name = normalizeBridgeName(bridge.name)
      const url = validateUrl(bridge.url)
      const confirmations = bridge.confirmations ?? 0
      if (!Number.isSafeInteger(confirmations) || confirmations < 0 || confirmations > 1000) {
        throw new BridgeValidationError(`invalid confirmations ${confirmations}`, {
          details: 'a whole number from 0 to 1000',
        })
      }
      const outgoingToken = newToken()
      const incomingToken = newToken()
      const [r] = await db.query<BridgeRow>(
        `INSERT INTO bridges (name, url, outgoing_token, incoming_token_hash, confirmations)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING RETURNING *`,
        [name, url, outgoingToken, sha256(incomingToken), confirmations],
      )
      if (!r) throw new BridgeExistsError(`a bridge named ${name} already exists`)
      return { bridge: toInfo(r), outgoingToken, incomingToken }
    },
    async list() {
      return (await db.query<BridgeRow>('SELECT * FROM bridges ORDER BY name')).map(toInfo)
    },
    async get(name) {
      const r = await row(name)
      return r && toInfo(r)
    },
    async remove(name) {
      const n = name.trim().toLowerCase()
      if (!BRIDGE_NAME.test(n)) return undefined
      const [r] = await db.query<BridgeRow>('DELETE FROM bridges WHERE name = $1 RETURNING *', [n])
      return r && toInfo(r)
    },
    async verifyIncoming(name, token) {
      const r = await row(name)
      if (!r) return false
      return timingSafeEqual(Buffer.from(sha256(token)), Buffer.from(r.incoming_token_hash))
    },
    registry: () => ({
      async get(name): Promise<Bridge | undefined> {
        const r = await row(name)
        if (!r) return undefined
        return {
          name: r.name,
          url: r.url,
          outgoingToken: r.outgoing_token,
          confirmations: r.confirmations,
        }
      },
    }),
  }
}
