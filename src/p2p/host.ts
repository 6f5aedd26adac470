/**
 * The committee host: a libp2p node (TCP + Noise + Yamux) that talks only to the members of one
 * oracle committee, as registered on chain, and carries signed envelopes between them for the
 * off-chain aggregation protocol. The guarantees are written down in docs/protocol/p2p.md:
 *
 * - Admission: a connection whose Noise-authenticated peer id is not a registered member is
 *   refused by the connection gater before any stream is opened on it.
 * - Messages: every envelope carries the config digest and round and is signed by the sender's
 *   libp2p key; it is delivered only if it comes from the member it claims, its signature checks
 *   against that member's registered peer id and its config digest is the current one.
 * - Queues: one bounded outbound queue per peer (the oldest message is dropped when full, and
 *   counted); inbound streams are paused while the handler works (Yamux flow control then stops
 *   the sender), so nothing is buffered without bound.
 * - Reconnects: each peer has a link that keeps one outbound stream open, redialling with
 *   exponential back-off (capped, jittered); queued messages flow again once it is back.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { Counter, type Registry } from 'prom-client'
import type { Address, Hex } from 'viem'
import type { Logger } from '../common.ts'
import { errorMessage } from '../errors.ts'
import { type BackoffOptions, backoffDelay } from './backoff.ts'
import {
  type Committee,
  type CommitteeMember,
  oracleKey,
  parseCommittee,
  type ResolvedMember,
} from './committee.ts'
import {
  checkMessage,
  decodeEnvelope,
  ENVELOPE_OVERHEAD,
  encodeEnvelope,
  type InboundMessage,
  isConfigDigest,
  type OutboundMessage,
  signEnvelope,
  verifyEnvelope,
} from './envelope.ts'
import { P2pError, P2pFrameError } from './errors.ts'
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame, FrameDecoder } from './framing.ts'
import { type Ed25519PrivateKey, peerIdOf, signingKeyObject } from './keys.ts'
import { DropOldestQueue } from './queue.ts'

/** The one protocol the committee speaks. */
export const COMMITTEE_PROTOCOL = '/orakel/committee/1.0.0'
export const DEFAULT_LISTEN = '/ip4/127.0.0.1/tcp/0'
export const DEFAULT_MAX_QUEUE_LENGTH = 1024
export const DEFAULT_DIAL_TIMEOUT_MS = 5_000
/** Streams of our protocol a peer may have open to us at once (one is normal; a reconnect may overlap). */
const MAX_STREAMS_PER_CONNECTION = 4
/** How long `stop` lets an outbound stream flush before resetting it. */
const CLOSE_TIMEOUT_MS = 500

export type MessageHandler = (msg: InboundMessage) => void | Promise<void>

export type CommitteeHostDeps = {
  logger: Logger
  /** Where the `orakel_p2p_*` counters go; none if omitted. */
  metrics?: Registry
}

export type CommitteeHostParams = {
  /** This node's libp2p key; its peer id must be the one the committee registers for `oracle`. */
  privateKey: Ed25519PrivateKey
  /** This node's on-chain oracle address. */
  oracle: Address
  /** The committee as registered on chain (this node included). */
  committee: readonly CommitteeMember[]
  /** The current config digest (32 bytes); messages for any other are dropped. */
  configDigest: Hex
  /** Multiaddrs to listen on. Default `/ip4/127.0.0.1/tcp/0`. */
  listen?: string[]
  /** Largest envelope, sent or received, in bytes. Default 1 MiB. */
  maxMessageBytes?: number
  /** Messages queued per peer before the oldest is dropped. Default 1024. */
  maxQueueLength?: number
  /** Reconnect back-off. Default 100 ms doubling to 10 s, jittered. */
  backoff?: BackoffOptions
  /** Time allowed for one dial. Default 5 s. */
  dialTimeoutMs?: number
  /** A first handler, registered before the host starts listening (no message is missed). */
  onMessage?: MessageHandler
}

export type PeerStats = {
  oracle: Address
  peerId: string
  connected: boolean
  /** Messages waiting in its outbound queue. */
  queued: number
  /** Messages written to its stream. */
  sent: number
  /** Messages dropped from its queue because it was full. */
  dropped: number
  /** Failed dials since it was last reachable. */
  failedDials: number
}

export type DropReason =
  | 'queue_full'
  | 'stale_config'
  | 'config_digest'
  | 'wrong_sender'
  | 'bad_signature'
  | 'malformed_frame'
  | 'not_member'
  | 'no_handler'
  | 'handler_error'

/** Messages and bytes of one message type written to peer streams. */
export type TypeTraffic = {
  /** Messages written (a broadcast to k peers counts k). */
  messages: number
  /** Their framed envelope bytes (framing, header, payload, signature; not Noise, Yamux, TCP). */
  bytes: number
}

export type HostStats = {
  /** Messages verified and delivered to the handlers. */
  received: number
  /** Messages and bytes written to peer streams, by envelope type (e.g. `oca/commit`). */
  sentByType: Record<string, TypeTraffic>
  /** Messages (or streams, for `malformed_frame` and `not_member`) dropped, by reason. */
  dropped: Record<DropReason, number>
  peers: PeerStats[]
}

export type CommitteeHost = {
  readonly peerId: string
  readonly oracle: Address
  /** The addresses it listens on, each ending in `/p2p/<peerId>`. */
  readonly multiaddrs: string[]
  configDigest(): Hex
  /** Queues a message for one member. Throws `P2pError` for a non-member, itself, or a bad message. */
  send(to: Address, msg: OutboundMessage): void
  /** Queues a message (signed once) for every other member. */
  broadcast(msg: OutboundMessage): void
  /** Adds a handler; returns a function that removes it. Handlers are awaited in turn. */
  onMessage(handler: MessageHandler): () => void
  /** Members (other than itself) with an open connection. */
  connectedPeers(): Address[]
  /**
   * A new config digest (queued messages signed for the old one are discarded) and optionally a
   * new committee (same local oracle and key): links to removed members close, new ones open.
   */
  setConfig(params: { configDigest: Hex; committee?: readonly CommitteeMember[] }): Promise<void>
  stats(): HostStats
  stop(): Promise<void>
}

/**
 * Closes our end, letting what the stream already took go out, and waits for the peer to close
 * its end (it does on seeing ours); resets the stream if that takes longer than
 * `CLOSE_TIMEOUT_MS`. Without the wait, libp2p's own stop waits on half-closed streams.
 */
async function closeGracefully(stream: Stream): Promise<void> {
  if (stream.status !== 'open') return
  const closed = new Promise<void>((resolve) => {
    stream.addEventListener('close', () => resolve(), { once: true })
  })
  const signal = AbortSignal.timeout(CLOSE_TIMEOUT_MS)
  const timedOut = new Promise<void>((resolve) => {
    signal.addEventListener('abort', () => resolve(), { once: true })
  })
  try {
    await stream.close({ signal })
    await Promise.race([closed, timedOut])
  } catch {
    // Reset below.
  }
  if (stream.status === 'open' || stream.status === 'closing')
    stream.abort(new P2pError('stream did not close in time'))
}

type QueuedFrame = { frame: Uint8Array; configDigest: Hex; type: string }

type Metrics = {
  sent: Counter
  sentByType: Counter<'type'>
  sentBytes: Counter<'type'>
  received: Counter
  dropped: Counter<'reason'>
}

function p2pMetrics(registry: Registry): Metrics {
  // Several hosts (a restart, or tests) may share one registry.
  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    (registry.getSingleMetric(name) as Counter<L> | undefined) ??
    new Counter<L>({ name, help, labelNames, registers: [registry] })
  return {
    sent: counter('orakel_p2p_messages_sent_total', 'Committee messages written to a peer stream.'),
    sentByType: counter(
      'orakel_p2p_messages_sent_by_type_total',
      'Committee messages written to a peer stream, by envelope type.',
      ['type'],
    ),
    sentBytes: counter(
      'orakel_p2p_bytes_sent_total',
      'Framed envelope bytes written to peer streams, by envelope type.',
      ['type'],
    ),
    received: counter(
      'orakel_p2p_messages_received_total',
      'Committee messages verified and delivered.',
    ),
    dropped: counter(
      'orakel_p2p_messages_dropped_total',
      'Committee messages or streams dropped, by reason.',
      ['reason'],
    ),
  }
}

/** Starts a committee host listening on `params.listen` and dialling every other member. */
export async function createCommitteeHost(
  deps: CommitteeHostDeps,
  params: CommitteeHostParams,
): Promise<CommitteeHost> {
  const peerId = peerIdOf(params.privateKey)
  if (!isConfigDigest(params.configDigest))
    throw new P2pError('Config digest must be 32 bytes of hex', { details: params.configDigest })
  let committee: Committee = parseCommittee(params.committee, { oracle: params.oracle, peerId })
  const oracle = committee.self.oracle
  let configDigest = params.configDigest
  const log = deps.logger.child({ component: 'p2p', oracle })
  const signingKey = signingKeyObject(params.privateKey)
  const maxMessageBytes = params.maxMessageBytes ?? DEFAULT_MAX_FRAME_BYTES
  const maxQueueLength = params.maxQueueLength ?? DEFAULT_MAX_QUEUE_LENGTH
  const dialTimeoutMs = params.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS
  const metrics = deps.metrics ? p2pMetrics(deps.metrics) : undefined
  const handlers = new Set<MessageHandler>()
  if (params.onMessage) handlers.add(params.onMessage)
  let received = 0
  const sentByType = new Map<string, TypeTraffic>()
  const countSent = (item: QueuedFrame) => {
    let t = sentByType.get(item.type)
    if (!t) {
      t = { messages: 0, bytes: 0 }
      sentByType.set(item.type, t)
    }
    t.messages += 1
    t.bytes += item.frame.length
    metrics?.sentByType.inc({ type: item.type })
    metrics?.sentBytes.inc({ type: item.type }, item.frame.length)
  }
  const dropped: Record<DropReason, number> = {
    queue_full: 0,
    stale_config: 0,
    config_digest: 0,
    wrong_sender: 0,
    bad_signature: 0,
    malformed_frame: 0,
    not_member: 0,
    no_handler: 0,
    handler_error: 0,
  }
  const drop = (reason: DropReason, n = 1) => {
    dropped[reason] += n
    metrics?.dropped.inc({ reason }, n)
  }
  let stopped = false

  const listen = params.listen ?? [DEFAULT_LISTEN]
  let libp2p: Libp2p
  try {
    libp2p = await createLibp2p({
      privateKey: params.privateKey,
      addresses: { listen },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [
        yamux({
          // While a handler works the stream is paused; the flow-control window is then all a
          // peer can have in flight, so it bounds what we buffer per stream.
          streamOptions: { maxStreamWindowSize: Math.max(256 * 1024, maxMessageBytes) },
        }),
      ],
      connectionGater: {
        // After Noise has proven the remote's key: only registered members get in (or out).
        denyInboundEncryptedConnection: (remote: PeerId) => !isMember(remote),
        denyOutboundEncryptedConnection: (remote: PeerId) => !isMember(remote),
        denyDialPeer: (remote: PeerId) => !isMember(remote),
      },
      connectionManager: {
        // We reconnect with our own back-off (links below), for members only.
        reconnectRetries: 0,
        dialTimeout: dialTimeoutMs,
        // New inbound connections per second per remote IP (libp2p's default is 5). Members on
        // one machine (tests, a local network) all come from one IP and may each dial twice.
        inboundConnectionThreshold: Math.max(5, 2 * committee.members.length),
      },
    })
  } catch (err) {
    throw new P2pError('Could not start the committee host', {
      details: `listening on ${listen.join(', ')}: ${errorMessage(err)}`,
      cause: err,
    })
  }

  function isMember(remote: PeerId): boolean {
    const member = committee.byPeerId.get(remote.toString())
    const ok = member !== undefined && member !== committee.self
    if (!ok) {
      drop('not_member')
      log.warn({ peer_id: remote.toString() }, 'refused a connection from a non-member')
    }
    return ok
  }

  // ---- outbound: one link per other member ----

  class PeerLink {
    member: ResolvedMember
    readonly queue = new DropOldestQueue<QueuedFrame>(maxQueueLength)
    readonly abort = new AbortController()
    stream: Stream | undefined
    sent = 0
    failedDials = 0
    closed = false
    done: Promise<void>
    #waiter: { resolve: () => void; onData: boolean } | undefined

    constructor(member: ResolvedMember) {
      this.member = member
      this.done = this.#run().catch((err) => {
        log.error({ peer: this.member.oracle, err: errorMessage(err) }, 'peer link failed')
      })
    }

    enqueue(item: QueuedFrame): void {
      if (this.queue.push(item)) {
        drop('queue_full')
        log.debug({ peer: this.member.oracle }, 'outbound queue full: dropped the oldest message')
      }
      this.#wake(false)
    }

    /** The peer connected (either side dialled): skip the rest of any back-off. */
    reachable(): void {
      this.failedDials = 0
      this.#wake(true)
    }

    async close(): Promise<void> {
      this.closed = true
      this.abort.abort(new P2pError('link closed'))
      this.#wake(true)
      await this.done
      const stream = this.stream
      this.stream = undefined
      if (stream) await closeGracefully(stream)
    }

    /** Wakes the loop; `always` also ends a back-off sleep, otherwise only an idle wait. */
    #wake(always: boolean): void {
      const waiter = this.#waiter
      if (waiter && (always || waiter.onData)) {
        this.#waiter = undefined
        waiter.resolve()
      }
    }

    #wait(ms: number | undefined, onData: boolean): Promise<void> {
      return new Promise((resolve) => {
        const timer = ms === undefined ? undefined : setTimeout(() => done(), ms)
        const done = () => {
          clearTimeout(timer)
          if (this.#waiter?.resolve === done) this.#waiter = undefined
          resolve()
        }
        this.#waiter = { resolve: done, onData }
      })
    }

    #usable(stream: Stream | undefined): stream is Stream {
      return stream !== undefined && stream.status === 'open' && stream.writeStatus === 'writable'
    }

    async #open(): Promise<Stream> {
      const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(dialTimeoutMs)])
      const existing = libp2p
        .getConnections(this.member.peer)
        .find((c) => c.status === 'open' && c.limits === undefined)
      if (existing) return existing.newStream(COMMITTEE_PROTOCOL, { signal })
      if (this.member.addrs.length === 0)
        throw new P2pError('No registered address; waiting for the peer to dial us')
      return libp2p.dialProtocol(this.member.addrs, COMMITTEE_PROTOCOL, { signal })
    }

    async #run(): Promise<void> {
      while (!this.closed) {
        if (!this.#usable(this.stream)) {
          this.stream = undefined
          let stream: Stream
          try {
            stream = await this.#open()
          } catch (err) {
            if (this.closed) break
            const delay = backoffDelay(this.failedDials++, params.backoff)
            log.debug(
              {
                peer: this.member.oracle,
                attempt: this.failedDials,
                delay_ms: Math.round(delay),
                err: errorMessage(err),
              },
              'peer unreachable; retrying after back-off',
            )
            await this.#wait(delay, false)
            continue
          }
          if (this.closed) {
            stream.abort(new P2pError('link closed'))
            break
          }
          this.failedDials = 0
          this.stream = stream
          stream.addEventListener('close', () => {
            if (this.stream !== stream) return
            this.stream = undefined
            log.debug({ peer: this.member.oracle }, 'stream to peer closed')
            this.#wake(true)
          })
          log.debug({ peer: this.member.oracle }, 'stream to peer open')
        }
        const stream = this.stream!
        const item = this.queue.shift()
        if (!item) {
          await this.#wait(undefined, true)
          continue
        }
        let accepted: boolean
        try {
          accepted = stream.send(item.frame)
        } catch (err) {
          // Not taken by the stream: keep it for the next one.
          if (!this.queue.unshift(item)) drop('queue_full')
          this.#dropStream(stream, err)
          continue
        }
        this.sent++
        metrics?.sent.inc()
        countSent(item)
        if (!accepted) {
          try {
            await stream.onDrain({ signal: this.abort.signal })
          } catch (err) {
            // Taken but perhaps never delivered; not re-sent (no duplicates).
            this.#dropStream(stream, err)
          }
        }
      }
    }

    #dropStream(stream: Stream, err: unknown): void {
      log.debug({ peer: this.member.oracle, err: errorMessage(err) }, 'stream to peer failed')
      if (this.stream === stream) this.stream = undefined
      if (stream.status === 'open')
        stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  const links = new Map<string, PeerLink>()

  // ---- inbound ----

  const inbound = new Set<Stream>()

  function onInboundStream(stream: Stream, connection: Connection): void {
    const remote = connection.remotePeer.toString()
    const member = committee.byPeerId.get(remote)
    if (!member || member === committee.self || stopped) {
      drop('not_member')
      stream.abort(new P2pError('not a committee member'))
      return
    }
    inbound.add(stream)
    stream.addEventListener('close', () => inbound.delete(stream))
    // The sender closed its end (link closing, host stopping): close ours so the stream ends
    // now instead of holding its connection open until a timeout.
    stream.addEventListener('remoteCloseWrite', () => {
      if (stream.status === 'open') stream.close().catch(() => {})
    })
    const decoder = new FrameDecoder(maxMessageBytes)
    const pending: Uint8Array[] = []
    let busy = false
    const reject = (err: unknown) => {
      drop(err instanceof P2pFrameError ? 'malformed_frame' : 'not_member')
      log.warn(
        {
          peer: member.oracle,
          reason:
            err instanceof P2pError ? `${err.shortMessage}: ${err.details}` : errorMessage(err),
        },
        'dropping a committee stream',
      )
      pending.length = 0
      if (stream.status === 'open')
        stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
    const drain = async () => {
      busy = true
      try {
        while (pending.length > 0 && stream.status === 'open') {
          const frame = pending.shift()!
          try {
            await receive(remote, frame)
          } catch (err) {
            reject(err)
          }
        }
      } finally {
        busy = false
      }
      if (stream.status === 'open' && stream.readStatus === 'paused') stream.resume()
    }
    stream.addEventListener('message', (evt) => {
      let frames: Uint8Array[]
      try {
        frames = decoder.push(evt.data)
      } catch (err) {
        reject(err)
        return
      }
      if (frames.length === 0) return
      pending.push(...frames)
      // Hold further data in the stream (and, through Yamux's window, at the sender) until
      // the handlers have taken these.
      stream.pause()
      if (!busy) void drain()
    })
  }

  /**
   * Verifies one frame from `remote` and delivers it. Throws to drop the stream: `P2pFrameError`
   * for a malformed envelope, `P2pError` if the sender has left the committee.
   */
  async function receive(remote: string, frame: Uint8Array): Promise<void> {
    const env = decodeEnvelope(frame)
    const member = committee.byPeerId.get(remote)
    if (!member) throw new P2pError('Sender left the committee')
    if (oracleKey(env.from) !== oracleKey(member.oracle)) {
      drop('wrong_sender')
      log.warn(
        { peer: member.oracle, claimed: env.from },
        'dropped a message claiming another sender',
      )
      return
    }
    if (!verifyEnvelope(member.verifyingKey, env)) {
      drop('bad_signature')
      log.warn({ peer: member.oracle, type: env.type }, 'dropped a message with a bad signature')
      return
    }
    if (env.configDigest.toLowerCase() !== configDigest.toLowerCase()) {
      drop('config_digest')
      log.debug(
        { peer: member.oracle, config_digest: env.configDigest },
        'dropped a message for another config digest',
      )
      return
    }
    const msg: InboundMessage = {
      from: member.oracle,
      round: env.round,
      type: env.type,
      payload: env.payload,
    }
    if (handlers.size === 0) {
      drop('no_handler')
      return
    }
    received++
    metrics?.received.inc()
    for (const handler of [...handlers]) {
      try {
        await handler(msg)
      } catch (err) {
        drop('handler_error')
        log.error(
          { peer: member.oracle, type: msg.type, round: String(msg.round), err: errorMessage(err) },
          'message handler failed',
        )
      }
    }
  }

  // ---- assembly ----

  try {
    await libp2p.handle(COMMITTEE_PROTOCOL, onInboundStream, {
      maxInboundStreams: MAX_STREAMS_PER_CONNECTION,
      maxOutboundStreams: MAX_STREAMS_PER_CONNECTION,
    })
  } catch (err) {
    await libp2p.stop()
    throw err
  }
  libp2p.addEventListener('peer:connect', (evt) => {
    links.get(evt.detail.toString())?.reachable()
  })
  for (const member of committee.members)
    if (member !== committee.self) links.set(member.peerId, new PeerLink(member))

  const multiaddrs = libp2p.getMultiaddrs().map((a) => a.toString())
  log.info({ peer_id: peerId, multiaddrs, members: committee.members.length }, 'committee host up')

  function connectedPeers(): Address[] {
    const open = new Set(
      libp2p
        .getConnections()
        .filter((c) => c.status === 'open')
        .map((c) => c.remotePeer.toString()),
    )
    return committee.members
      .filter((m) => m !== committee.self && open.has(m.peerId))
      .map((m) => m.oracle)
  }

  function frameFor(msg: OutboundMessage): QueuedFrame {
    if (stopped) throw new P2pError('The committee host is stopped')
    checkMessage(msg)
    if (ENVELOPE_OVERHEAD + msg.type.length + msg.payload.length > maxMessageBytes)
      throw new P2pError('Message too large', {
        details: `${msg.payload.length}-byte payload; envelopes are at most ${maxMessageBytes} bytes`,
      })
    const env = signEnvelope(signingKey, { ...msg, configDigest, from: oracle })
    return { frame: encodeFrame(encodeEnvelope(env)), configDigest, type: msg.type }
  }

  return {
    peerId,
    oracle,
    multiaddrs,
    configDigest: () => configDigest,
    send(to, msg) {
      const member = committee.byOracle.get(oracleKey(to))
      if (!member) throw new P2pError('Not a committee member', { details: to })
      if (member === committee.self) throw new P2pError('A host does not send to itself')
      const item = frameFor(msg)
      links.get(member.peerId)!.enqueue(item)
    },
    broadcast(msg) {
      const item = frameFor(msg)
      for (const link of links.values()) link.enqueue(item)
    },
    onMessage(handler) {
      handlers.add(handler)
      return () => {
        handlers.delete(handler)
      }
    },
    connectedPeers,
    async setConfig(next) {
      if (stopped) throw new P2pError('The committee host is stopped')
      if (!isConfigDigest(next.configDigest))
        throw new P2pError('Config digest must be 32 bytes of hex', { details: next.configDigest })
      const nextCommittee = next.committee
        ? parseCommittee(next.committee, { oracle, peerId })
        : committee
      if (next.configDigest.toLowerCase() !== configDigest.toLowerCase()) {
        configDigest = next.configDigest
        for (const link of links.values())
          drop(
            'stale_config',
            link.queue.filter((item) => item.configDigest === configDigest),
          )
      }
      if (nextCommittee === committee) return
      committee = nextCommittee
      const closing: Promise<void>[] = []
      for (const [id, link] of links) {
        const member = committee.byPeerId.get(id)
        if (member) {
          link.member = member
          link.reachable() // its addresses may have changed: dial again now
          continue
        }
        links.delete(id)
        closing.push(link.close())
        closing.push(libp2p.hangUp(link.member.peer).catch(() => {}))
      }
      for (const member of committee.members)
        if (member !== committee.self && !links.has(member.peerId))
          links.set(member.peerId, new PeerLink(member))
      await Promise.all(closing)
      log.info({ members: committee.members.length }, 'committee updated')
    },
    stats() {
      const open = new Set(connectedPeers().map(oracleKey))
      return {
        received,
        sentByType: Object.fromEntries([...sentByType].map(([type, t]) => [type, { ...t }])),
        dropped: { ...dropped },
        peers: [...links.values()].map((link) => ({
          oracle: link.member.oracle,
          peerId: link.member.peerId,
          connected: open.has(oracleKey(link.member.oracle)),
          queued: link.queue.length,
          sent: link.sent,
          dropped: link.queue.dropped,
          failedDials: link.failedDials,
        })),
      }
    },
    async stop() {
      if (stopped) return
      stopped = true
      await Promise.all([...links.values()].map((link) => link.close()))
      links.clear()
      // Peers only ever write to these; closing them gracefully would wait for the peers.
      for (const stream of inbound) stream.abort(new P2pError('host stopping'))
      // Closed here rather than by libp2p's stop, which waits 500 ms for the close event of a
      // connection the peer is closing at the same moment.
      await Promise.all(
        libp2p
          .getConnections()
          .map((c) =>
            c.close({ signal: AbortSignal.timeout(CLOSE_TIMEOUT_MS) }).catch((err) => c.abort(err)),
          ),
      )
      await libp2p.stop()
      log.info('committee host stopped')
    },
  }
}
