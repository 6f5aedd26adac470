import type { Hex } from 'viem'
import { z } from 'zod'
import type { PossessionProof } from '../crypto/dkg.ts'
import { BaseError } from '../errors.ts'
import type { OcaMessage } from './node.ts'
import type { SignedObservation } from './report.ts'

/**
 * The OCA protocol's messages on the committee network (docs/protocol/oca.md, "Wire format"):
 * what goes into a `src/p2p/` envelope's type, round and payload. Payloads are UTF-8 JSON
 * objects with a fixed set of keys; integers that do not fit a JSON number are hex strings
 * (`"0x…"`, `"-0x…"` for a negative observation). The sender and the round are never in the
 * payload: they are the envelope's (authenticated) `from` and `round`, so a payload cannot claim
 * another member or round. Decoding checks everything and throws `OcaWireError` with the reason;
 * the receiver logs it and drops the message.
 */

export class OcaWireError extends BaseError {
  override name = 'OcaWireError'
}

/** Largest OCA payload accepted (a proposal of 255 observations is ≈ 60 KiB). */
export const MAX_OCA_PAYLOAD_BYTES = 64 * 1024
/** Largest number of DKG instances in one session (a nonce batch). */
export const MAX_DKG_INSTANCES = 256
/** Rounds are uint32 on chain. */
const MAX_ROUND = 2 ** 32 - 1
/** int192 bounds of an observation. */
const INT192_MIN = -(2n ** 191n)
const INT192_MAX = 2n ** 191n - 1n

export type WireMessage = { round: bigint; type: string; payload: Uint8Array }

/** Why a message was refused, for the log: the short message and its details. */
export function reasonOf(err: unknown): string {
  if (err instanceof BaseError)
    return err.details ? `${err.shortMessage}: ${err.details}` : err.shortMessage
  return err instanceof Error ? err.message : String(err)
}

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'expected 32 bytes of hex')
const point = z.string().regex(/^0x0[23][0-9a-fA-F]{64}$/, 'expected a compressed point')
const signature = z.string().regex(/^0x[0-9a-fA-F]{130}$/, 'expected a 65-byte signature')
const signedHex = z
  .string()
  .regex(/^-?0x[0-9a-fA-F]{1,64}$/, 'expected a (signed) hex integer')
  .transform((s) => (s.startsWith('-') ? -BigInt(s.slice(1)) : BigInt(s)))
  .refine((v) => v >= INT192_MIN && v <= INT192_MAX, 'outside int192')
const view = z.int().min(0).max(MAX_ROUND)
const index = z.int().min(1).max(255)

const observation = z.strictObject({ index, value: signedHex, signature })

const ocaPayloads = {
  observe: z.strictObject({ view, observation }),
  propose: z.strictObject({ view, observations: z.array(observation).min(1).max(255) }),
  commit: z.strictObject({ view, message: hex32, commitment: hex32 }),
  prepared: z.strictObject({ view, message: hex32, commitments: hex32 }),
  reveal: z.strictObject({ view, message: hex32, sigma: hex32 }),
} as const

type OcaType = keyof typeof ocaPayloads
const OCA_PREFIX = 'oca/'

function signedToHex(v: bigint): string {
  return v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`
}

const observationJson = (o: SignedObservation) => ({
  index: o.index,
  value: signedToHex(o.value),
  signature: o.signature,
})

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

function parsePayload(payload: Uint8Array, limit: number): unknown {
  if (payload.length > limit)
    throw new OcaWireError('payload too large', {
      details: `${payload.length} bytes, at most ${limit}`,
    })
  let text: string
  try {
    text = decoder.decode(payload)
  } catch {
    throw new OcaWireError('payload is not UTF-8')
  }
  try {
    return JSON.parse(text)
  } catch {
    throw new OcaWireError('payload is not JSON')
  }
}

function check<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new OcaWireError(`malformed ${what}`, {
      details: `${issue?.path.join('.') || '(payload)'}: ${issue?.message}`,
    })
  }
  return parsed.data
}

/** The envelope fields for an OCA message (its `from` and `round` go in the envelope). */
export function encodeOcaMessage(m: OcaMessage): WireMessage {
  let body: unknown
  switch (m.type) {
    case 'observe':
      body = { view: m.view, observation: observationJson(m.observation) }
      break
    case 'propose':
      body = { view: m.view, observations: m.observations.map(observationJson) }
      break
    case 'commit':
      body = { view: m.view, message: m.message, commitment: m.commitment }
      break
    case 'prepared':
      body = { view: m.view, message: m.message, commitments: m.commitments }
      break
    case 'reveal':
      body = { view: m.view, message: m.message, sigma: m.sigma }
      break
  }
  return {
    round: BigInt(m.round),
    type: `${OCA_PREFIX}${m.type}`,
    payload: encoder.encode(JSON.stringify(body)),
  }
}

export function isOcaType(type: string): boolean {
  return type.startsWith(OCA_PREFIX)
}

/**
 * An OCA message from member `from` (1..n, from the envelope's authenticated sender). Throws
 * `OcaWireError` for an unknown type, a round outside uint32, or a malformed payload; an
 * observation index above `n` is refused too.
 */
export function decodeOcaMessage(msg: WireMessage, from: number, n: number): OcaMessage {
  const kind = msg.type.slice(OCA_PREFIX.length)
  if (!msg.type.startsWith(OCA_PREFIX) || !Object.hasOwn(ocaPayloads, kind))
    throw new OcaWireError('unknown OCA message type', { details: msg.type })
  if (msg.round < 1n || msg.round > BigInt(MAX_ROUND))
    throw new OcaWireError('round outside uint32', { details: String(msg.round) })
  const round = Number(msg.round)
  const body = parsePayload(msg.payload, MAX_OCA_PAYLOAD_BYTES)
  const type = kind as OcaType
  const tooHigh = (o: { index: number }) => {
    if (o.index > n)
      throw new OcaWireError(`malformed ${type}`, {
        details: `observation index ${o.index} > ${n}`,
      })
  }
  // The schemas are strict and their fields are exactly the message's (hex strings checked).
  const p: Record<string, unknown> = check(ocaPayloads[type], body, type)
  if (type === 'observe') tooHigh(p.observation as { index: number })
  if (type === 'propose') for (const o of p.observations as { index: number }[]) tooHigh(o)
  return { ...p, type, round, from } as OcaMessage
}

// ---- DKG sessions ----

/** One DKG instance's public deal (the dealer is the sender). */
export type WireDeal = { commitments: Hex[]; proof: PossessionProof }
export type WireComplaint = { instance: number; dealer: number }
export type WireAnswer = { instance: number; accuser: number; share: Hex }

export type DkgMessage =
  | { kind: 'deal'; session: string; deals: WireDeal[] }
  | { kind: 'share'; session: string; shares: Hex[] }
  | { kind: 'complaints'; session: string; complaints: WireComplaint[] }
  | { kind: 'answers'; session: string; answers: WireAnswer[] }
  | { kind: 'digest'; session: string; digest: Hex; proof?: PossessionProof | undefined }

const session = z.string().regex(/^[a-z0-9:/_-]{1,64}$/, 'expected a session id')
const instance = z
  .int()
  .min(0)
  .max(MAX_DKG_INSTANCES - 1)
const proof = z.strictObject({ commitment: point, z: hex32 })
const dkgPayloads = {
  deal: z.strictObject({
    session,
    deals: z
      .array(z.strictObject({ commitments: z.array(point).min(1).max(255), proof }))
      .min(1)
      .max(MAX_DKG_INSTANCES),
  }),
  share: z.strictObject({ session, shares: z.array(hex32).min(1).max(MAX_DKG_INSTANCES) }),
  complaints: z.strictObject({
    session,
    complaints: z.array(z.strictObject({ instance, dealer: index })).max(MAX_DKG_INSTANCES * 255),
  }),
  answers: z.strictObject({
    session,
    answers: z
      .array(z.strictObject({ instance, accuser: index, share: hex32 }))
      .max(MAX_DKG_INSTANCES * 255),
  }),
  digest: z.strictObject({ session, digest: hex32, proof: proof.optional() }),
} as const

const DKG_PREFIX = 'dkg/'

export function isDkgType(type: string): boolean {
  return type.startsWith(DKG_PREFIX)
}

/** The envelope fields for a DKG session message; `round` is informational (the batch). */
export function encodeDkgMessage(m: DkgMessage, round = 0n): WireMessage {
  const { kind, ...body } = m
  return {
    round,
    type: `${DKG_PREFIX}${kind}`,
    payload: encoder.encode(JSON.stringify(body)),
  }
}

/** Decodes a DKG session message; throws `OcaWireError` with the reason. */
export function decodeDkgMessage(msg: WireMessage, maxBytes = 1024 * 1024): DkgMessage {
  const kind = msg.type.slice(DKG_PREFIX.length)
  if (!msg.type.startsWith(DKG_PREFIX) || !Object.hasOwn(dkgPayloads, kind))
    throw new OcaWireError('unknown DKG message type', { details: msg.type })
  const body = parsePayload(msg.payload, maxBytes)
  const k = kind as keyof typeof dkgPayloads
  const parsed = check(dkgPayloads[k], body, `dkg ${k}`)
  return { kind: k, ...parsed } as DkgMessage
}
