import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, describe, test } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import pino from 'pino'
import type { Registry } from 'prom-client'
import type { Address, Hex } from 'viem'
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts'
import { createLogger, createMetrics, type Logger } from '../common.ts'
import { freePort } from '../oca/local-committee.ts'
import type { CommitteeMember } from './committee.ts'
import { encodeEnvelope, type InboundMessage, signEnvelope } from './envelope.ts'
import { P2pError } from './errors.ts'
import { encodeFrame } from './framing.ts'
import {
  COMMITTEE_PROTOCOL,
  type CommitteeHost,
  type CommitteeHostParams,
  createCommitteeHost,
} from './host.ts'
import { type Ed25519PrivateKey, generateP2pKey, peerIdOf, signingKeyObject } from './keys.ts'

const DIGEST: Hex = `0x${'c0'.repeat(32)}`
const OTHER_DIGEST: Hex = `0x${'d1'.repeat(32)}`
const BACKOFF = { initialMs: 20, maxMs: 200 }
const enc = (text: string) => new TextEncoder().encode(text)
const dec = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

type Member = {
  key: Ed25519PrivateKey
  oracle: Address
  port: number
  entry: CommitteeMember
}

async function makeMembers(n: number): Promise<Member[]> {
  const members: Member[] = []
  for (let i = 0; i < n; i++) {
    const key = await generateP2pKey()
    const oracle = privateKeyToAddress(generatePrivateKey())
    const port = await freePort()
    members.push({
      key,
      oracle,
      port,
      entry: { oracle, peerId: peerIdOf(key), addrs: [`/ip4/127.0.0.1/tcp/${port}`] },
    })
  }
  return members
}

const running = new Set<{ stop(): void | Promise<void> }>()
after(async () => {
  await Promise.all([...running].map((h) => h.stop()))
})

type TestHost = CommitteeHost & { inbox: InboundMessage[] }

async function startHost(
  member: Member,
  committee: Member[],
  extra: Partial<CommitteeHostParams> & { logger?: Logger; metrics?: Registry } = {},
): Promise<TestHost> {
  const inbox: InboundMessage[] = []
  const { logger, metrics, ...params } = extra
  const host = await createCommitteeHost(
    { logger: logger ?? createLogger({ silent: true }), ...(metrics ? { metrics } : {}) },
    {
      privateKey: member.key,
      oracle: member.oracle,
      committee: committee.map((m) => m.entry),
      configDigest: DIGEST,
      listen: [`/ip4/127.0.0.1/tcp/${member.port}`],
      backoff: BACKOFF,
      onMessage: (msg) => {
        inbox.push(msg)
      },
      ...params,
    },
  )
  const stop = host.stop
  const wrapped: TestHost = Object.assign(host, {
    inbox,
    stop: async () => {
      running.delete(wrapped)
      await stop()
    },
  })
  running.add(wrapped)
  return wrapped
}

/** A bare libp2p node (no committee host) holding `key`: it can write any bytes it likes. */
async function rawNode(key: Ed25519PrivateKey): Promise<Libp2p> {
  const node = await createLibp2p({
    privateKey: key,
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  })
  running.add(node)
  return node
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A logger whose lines the test can read. */
function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line))
      done()
    },
  })
  return { logger: pino({ level: 'debug' }, stream), lines }
}

describe('committee host', () => {
  test('four members: every broadcast reaches each other member exactly once, verified', async () => {
    const members = await makeMembers(4)
    const hosts = await Promise.all(members.map((m) => startHost(m, members)))
    const perHost = 5
    for (const [i, host] of hosts.entries())
      for (let k = 0; k < perHost; k++)
        host.broadcast({ round: BigInt(k), type: 'test/bcast', payload: enc(`${i}:${k}`) })
    await waitFor('all broadcasts', () => hosts.every((h) => h.inbox.length >= 3 * perHost))
    await sleep(100) // room for any duplicate to show up
    for (const [i, host] of hosts.entries()) {
      assert.equal(host.inbox.length, 3 * perHost, `host ${i} inbox`)
      const seen = host.inbox.map((m) => `${m.from}|${m.round}|${m.type}|${dec(m.payload)}`).sort()
      const expected = members
        .flatMap((m, j) =>
          j === i
            ? []
            : Array.from({ length: perHost }, (_, k) => `${m.oracle}|${k}|test/bcast|${j}:${k}`),
        )
        .sort()
      assert.deepEqual(seen, expected)
      // Per sender, in the order sent.
      for (const m of members) {
        const rounds = host.inbox.filter((x) => x.from === m.oracle).map((x) => x.round)
        assert.deepEqual(
          rounds,
          [...rounds].sort((a, b) => Number(a - b)),
        )
      }
      assert.equal(host.stats().received, 3 * perHost)
      assert.equal(
        Object.values(host.stats().dropped).reduce((a, b) => a + b, 0),
        0,
      )
    }
    await waitFor('full mesh', () => hosts.every((h) => h.connectedPeers().length === 3))

    // A point-to-point message reaches only its recipient.
    hosts[0]!.send(members[2]!.oracle, { round: 9n, type: 'test/direct', payload: enc('hi') })
    await waitFor('direct message', () => hosts[2]!.inbox.length === 3 * perHost + 1)
    await sleep(50)
    assert.deepEqual(
      hosts.map((h) => h.inbox.length),
      [15, 15, 16, 15],
    )
    const direct = hosts[2]!.inbox.at(-1)!
    // Sent traffic by type: a broadcast counts once per peer; bytes are the framed envelopes.
    const traffic = hosts[0]!.stats().sentByType
    assert.equal(traffic['test/bcast']!.messages, 3 * perHost)
    assert.equal(traffic['test/direct']!.messages, 1)
    assert.ok(traffic['test/direct']!.bytes > 'test/direct'.length + 2)
    assert.equal(hosts[1]!.stats().sentByType['test/direct'], undefined)
    assert.equal(direct.from, members[0]!.oracle)
    assert.equal(direct.type, 'test/direct')
    assert.equal(dec(direct.payload), 'hi')

    // Refused locally: non-members, itself, bad messages, oversized payloads.
    const outsider = privateKeyToAddress(generatePrivateKey())
    assert.throws(
      () => hosts[0]!.send(outsider, { round: 1n, type: 't', payload: enc('') }),
      /Not a committee member/,
    )
    assert.throws(
      () => hosts[0]!.send(members[0]!.oracle, { round: 1n, type: 't', payload: enc('') }),
      /itself/,
    )
    assert.throws(() => hosts[0]!.broadcast({ round: -1n, type: 't', payload: enc('') }), /u64/)
    assert.throws(
      () => hosts[0]!.broadcast({ round: 1n, type: 't', payload: new Uint8Array(1024 * 1024) }),
      /too large/,
    )
    await Promise.all(hosts.map((h) => h.stop()))
  })

  test('an outsider is refused and nothing it sends is delivered', async () => {
    const [member, stranger] = await makeMembers(2)
    const host = await startHost(member!, [member!])
    // The outsider believes it is in a committee with the member and tries to talk to it.
    const outsider = await startHost(stranger!, [stranger!, member!])
    outsider.broadcast({ round: 1n, type: 'test/intrude', payload: enc('let me in') })
    outsider.send(member!.oracle, { round: 2n, type: 'test/intrude', payload: enc('please') })
    await waitFor('a refusal', () => host.stats().dropped.not_member >= 2)
    await sleep(200)
    assert.equal(host.inbox.length, 0)
    assert.equal(host.stats().received, 0)
    assert.deepEqual(host.connectedPeers(), [])
    assert.deepEqual(outsider.connectedPeers(), [])
    // The outsider keeps its messages queued and backs off.
    const [peer] = outsider.stats().peers
    assert.equal(peer!.queued + peer!.sent, 2)
    assert.ok(peer!.failedDials >= 1)

    // A bare node with an unregistered key gets no stream either.
    const raw = await rawNode(await generateP2pKey())
    await assert.rejects(
      raw.dialProtocol(multiaddr(`/ip4/127.0.0.1/tcp/${member!.port}`), COMMITTEE_PROTOCOL),
    )
    await sleep(50)
    assert.equal(host.inbox.length, 0)
    await Promise.all([host.stop(), outsider.stop(), raw.stop()])
  })

  test('forged, foreign and malformed envelopes are dropped; the honest ones get through', async () => {
    const members = await makeMembers(3)
    const [a, b, d] = members as [Member, Member, Member]
    const { logger, lines } = captureLogger()
    const metrics = createMetrics()
    const host = await startHost(a, members, { logger, metrics })
    // d is a registered member, but speaks through a bare node so it can send anything.
    const node = await rawNode(d.key)
    const target = multiaddr(`/ip4/127.0.0.1/tcp/${a.port}`)
    const frame = (
      key: Ed25519PrivateKey,
      fields: { from: Address; configDigest?: Hex; payload: string },
    ) =>
      encodeFrame(
        encodeEnvelope(
          signEnvelope(signingKeyObject(key), {
            configDigest: fields.configDigest ?? DIGEST,
            round: 7n,
            type: 'test/forge',
            from: fields.from,
            payload: enc(fields.payload),
          }),
        ),
      )
    let stream: Stream = await node.dialProtocol(target, COMMITTEE_PROTOCOL)
    stream.send(frame(d.key, { from: d.oracle, payload: 'honest 1' }))
    // Signed by b's key but claiming to be d: bad signature.
    stream.send(frame(b.key, { from: d.oracle, payload: 'bad signature' }))
    // b's genuine message, replayed by d: the claimed sender is not the connection's member.
    stream.send(frame(b.key, { from: b.oracle, payload: 'wrong sender' }))
    // d's genuine message for another configuration.
    stream.send(frame(d.key, { from: d.oracle, configDigest: OTHER_DIGEST, payload: 'old config' }))
    stream.send(frame(d.key, { from: d.oracle, payload: 'honest 2' }))
    await waitFor('honest messages', () => host.inbox.length === 2)
    await sleep(50)
    assert.deepEqual(
      host.inbox.map((m) => dec(m.payload)),
      ['honest 1', 'honest 2'],
    )
    assert.ok(host.inbox.every((m) => m.from === d.oracle && m.round === 7n))
    const dropped = host.stats().dropped
    assert.equal(dropped.bad_signature, 1)
    assert.equal(dropped.wrong_sender, 1)
    assert.equal(dropped.config_digest, 1)
    assert.equal(stream.status, 'open', 'dropped messages do not cost the stream')
    const exported = await metrics.getSingleMetricAsString('orakel_p2p_messages_dropped_total')
    assert.match(exported, /reason="bad_signature"} 1/)
    assert.match(exported, /reason="wrong_sender"} 1/)
    assert.match(
      await metrics.getSingleMetricAsString('orakel_p2p_messages_received_total'),
      /total 2/,
    )

    // An oversized frame: the stream is dropped (with the reason logged), nothing delivered.
    const header = new Uint8Array(4)
    new DataView(header.buffer).setUint32(0, 2 * 1024 * 1024)
    stream.send(header)
    stream.send(new Uint8Array(1000))
    await waitFor('stream reset', () => stream.status !== 'open')
    assert.equal(host.stats().dropped.malformed_frame, 1)
    const reason = lines.find((l) => l.msg === 'dropping a committee stream')
    assert.match(String(reason?.reason), /Frame too large: 2097152 bytes announced/)

    // A frame that is no envelope: the stream is dropped too.
    stream = await node.dialProtocol(target, COMMITTEE_PROTOCOL)
    stream.send(encodeFrame(enc('this is not an envelope')))
    await waitFor('stream reset', () => stream.status !== 'open')
    assert.equal(host.stats().dropped.malformed_frame, 2)

    // The member can open a new stream and be heard again; the host never crashed.
    stream = await node.dialProtocol(target, COMMITTEE_PROTOCOL)
    stream.send(frame(d.key, { from: d.oracle, payload: 'honest 3' }))
    await waitFor('third honest message', () => host.inbox.length === 3)
    assert.equal(host.stats().received, 3)
    await Promise.all([host.stop(), node.stop()])
  })

  test('a restarted peer gets the messages queued while it was down', async () => {
    const members = await makeMembers(2)
    const [a, b] = members as [Member, Member]
    const hostA = await startHost(a, members)
    let hostB = await startHost(b, members)
    await waitFor('connected', () => hostA.connectedPeers().length === 1)
    hostA.send(b.oracle, { round: 0n, type: 'test/seq', payload: enc('0') })
    await waitFor('first message', () => hostB.inbox.length === 1)

    await hostB.stop()
    await waitFor('disconnect seen', () => hostA.connectedPeers().length === 0)
    for (let k = 1; k <= 5; k++)
      hostA.send(b.oracle, { round: BigInt(k), type: 'test/seq', payload: enc(String(k)) })
    await sleep(300) // several failed dials
    const [peer] = hostA.stats().peers
    assert.equal(peer!.queued, 5)
    assert.ok(peer!.failedDials >= 2, `failed dials ${peer!.failedDials}`)

    // Same key, same address.
    hostB = await startHost(b, members)
    await waitFor('queued messages', () => hostB.inbox.length === 5)
    assert.deepEqual(
      hostB.inbox.map((m) => dec(m.payload)),
      ['1', '2', '3', '4', '5'],
    )
    assert.equal(hostA.stats().peers[0]!.queued, 0)

    // Down again; back on a new port, which a committee update tells a.
    await hostB.stop()
    await waitFor('disconnect seen', () => hostA.connectedPeers().length === 0)
    hostA.send(b.oracle, { round: 6n, type: 'test/seq', payload: enc('6') })
    const moved: Member = {
      ...b,
      port: await freePort(),
      entry: { ...b.entry, addrs: [] },
    }
    moved.entry.addrs = [`/ip4/127.0.0.1/tcp/${moved.port}`]
    const updated = [a, moved]
    hostB = await startHost(moved, updated)
    await hostA.setConfig({ configDigest: DIGEST, committee: updated.map((m) => m.entry) })
    await waitFor('message after the move', () => hostB.inbox.length === 1)
    assert.equal(dec(hostB.inbox[0]!.payload), '6')
    await Promise.all([hostA.stop(), hostB.stop()])
  })

  test('refuses to start with a key, digest or address it cannot use', async () => {
    const members = await makeMembers(2)
    const [a, b] = members as [Member, Member]
    await assert.rejects(startHost(a, members, { privateKey: b.key }), (err: unknown) => {
      assert.ok(err instanceof P2pError)
      assert.match(err.shortMessage, /another peer id for the local oracle/)
      return true
    })
    await assert.rejects(startHost(a, members, { configDigest: '0x1234' }), P2pError)
    const hostA = await startHost(a, members)
    // b tries to listen on a's port.
    await assert.rejects(
      startHost(b, members, { listen: [`/ip4/127.0.0.1/tcp/${a.port}`] }),
      (err: unknown) => {
        assert.ok(err instanceof P2pError)
        assert.match(err.shortMessage, /Could not start/)
        return true
      },
    )
    await hostA.stop()
  })

  test('the outbound queue keeps the newest messages up to its bound', async () => {
    const members = await makeMembers(2)
    const [a, b] = members as [Member, Member]
    const hostA = await startHost(a, members, { maxQueueLength: 4 })
    // b is not running yet.
    for (let k = 0; k < 10; k++)
      hostA.send(b.oracle, { round: BigInt(k), type: 'test/q', payload: enc(String(k)) })
    const [peer] = hostA.stats().peers
    assert.equal(peer!.queued, 4)
    assert.equal(peer!.dropped, 6)
    assert.equal(hostA.stats().dropped.queue_full, 6)
    const hostB = await startHost(b, members)
    await waitFor('queued messages', () => hostB.inbox.length === 4)
    await sleep(100)
    assert.deepEqual(
      hostB.inbox.map((m) => dec(m.payload)),
      ['6', '7', '8', '9'],
    )
    await Promise.all([hostA.stop(), hostB.stop()])
  })

  test('a new config digest: stale queued messages are discarded, others are dropped on receipt', async () => {
    const members = await makeMembers(2)
    const [a, b] = members as [Member, Member]
    const hostA = await startHost(a, members)
    // Queued for b (not running) under the old digest, then the digest changes.
    hostA.send(b.oracle, { round: 1n, type: 'test/cfg', payload: enc('old') })
    await hostA.setConfig({ configDigest: OTHER_DIGEST })
    assert.equal(hostA.configDigest(), OTHER_DIGEST)
    assert.equal(hostA.stats().dropped.stale_config, 1)
    assert.equal(hostA.stats().peers[0]!.queued, 0)
    const hostB = await startHost(b, members)
    hostA.send(b.oracle, { round: 2n, type: 'test/cfg', payload: enc('new, too early') })
    await waitFor('dropped for its digest', () => hostB.stats().dropped.config_digest === 1)
    await hostB.setConfig({ configDigest: OTHER_DIGEST })
    hostA.send(b.oracle, { round: 3n, type: 'test/cfg', payload: enc('new') })
    await waitFor('delivered', () => hostB.inbox.length === 1)
    assert.equal(dec(hostB.inbox[0]!.payload), 'new')
    await Promise.all([hostA.stop(), hostB.stop()])
  })

  test('a slow handler holds the sender back instead of buffering without bound', async () => {
    const members = await makeMembers(2)
    const [a, b] = members as [Member, Member]
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    let active = 0
    let maxActive = 0
    const seen: number[] = []
    const hostB = await startHost(b, members, {
      onMessage: async (msg) => {
        active++
        maxActive = Math.max(maxActive, active)
        await gate
        seen.push(Number(msg.round))
        active--
      },
    })
    const hostA = await startHost(a, members)
    const count = 40
    const payload = new Uint8Array(100 * 1024)
    for (let k = 0; k < count; k++)
      hostA.send(b.oracle, { round: BigInt(k), type: 'test/slow', payload })
    await sleep(500)
    // 4 MB were queued; the receiver took at most a flow-control window's worth.
    const stalled = hostA.stats().peers[0]!
    assert.ok(stalled.queued >= count - 20, `sender queue ${stalled.queued}`)
    assert.ok(stalled.sent <= 20, `sender wrote ${stalled.sent}`)
    release()
    await waitFor('all messages', () => seen.length === count, 10_000)
    assert.deepEqual(
      seen,
      Array.from({ length: count }, (_, k) => k),
    )
    assert.equal(maxActive, 1, 'a stream is handled one message at a time')
    await Promise.all([hostA.stop(), hostB.stop()])
  })
})
