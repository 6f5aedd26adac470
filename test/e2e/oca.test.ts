/**
 * Off-chain aggregation over the real committee network (issue 7): four members (f = 1) in one
 * process, each with its own libp2p host on 127.0.0.1, its own database (PGlite in a data
 * directory, or a Postgres schema with DATABASE_URL) and its own transmitter key.
 *
 * 1. The group key comes from a DKG over the network, bound to the aggregator's config digest
 *    (its address is known before deployment); the ThresholdAggregator is deployed with it.
 * 2. Rounds with local observations: each round ends with exactly one successful `transmit`
 *    (the fallbacks read the chain and stand down) and `latestRoundData` moves. Nonces come from
 *    batch DKG sessions run ahead over the network.
 * 3. A member is stopped mid-round (just after its nonce was recorded as used) and the others
 *    go on with 3 of 4, including a round whose first leader is the stopped member. It is then
 *    restarted from the same database and key: it never signs another message under a used nonce,
 *    no nonce point serves two signatures, and it signs again once it has fresh nonces.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import pino from 'pino'
import {
  type Address,
  decodeFunctionData,
  getAddress,
  getContractAddress,
  type Hex,
  keccak256,
} from 'viem'
import { ThresholdAggregatorAbi, ThresholdAggregatorBytecode } from '../../artifacts/abis.ts'
import { ANVIL_PRIVATE_KEYS } from '../../src/chain/anvil.ts'
import { type ChainClient, createChainClient } from '../../src/chain/client.ts'
import { deployContract, startTestChain, type TestChain } from '../../src/chain/testing.ts'
import type { Logger } from '../../src/common.ts'
import { parsePoint } from '../../src/crypto/dkg.ts'
import { pointAddress, toPublicKey } from '../../src/crypto/schnorr.ts'
import { readLatestRound, sendTransmit } from '../../src/oca/aggregator.ts'
import { freePort } from '../../src/oca/local-committee.ts'
import {
  createOcaMember,
  ensureGroupKey,
  type OcaMember,
  type OcaMemberParams,
  type RoundOutcome,
} from '../../src/oca/member.ts'
import { configDigestOf, reportMessage } from '../../src/oca/report.ts'
import { createSealer } from '../../src/oca/sealing.ts'
import { memberAccount } from '../../src/oca/testing.ts'
import type { CommitteeMember } from '../../src/p2p/committee.ts'
import { type CommitteeHost, createCommitteeHost } from '../../src/p2p/host.ts'
import { type Ed25519PrivateKey, generateP2pKey, peerIdOf } from '../../src/p2p/keys.ts'
import { type Db, openDatabase } from '../../src/store/db.ts'
import {
  createOcaRepository,
  type NonceRecord,
  NonceReuseError,
  type OcaRepository,
  openSealingKey,
} from '../../src/store/oca.ts'
import { waitFor } from './node-setup.ts'

const N = 4
const F = 1
const EPOCH = 1
const SEED = 'oca e2e'
const PASSWORD = 'oca e2e password'
const STOPPED = 2 // the member stopped and restarted; leader of view 0 in rounds 5, 9, 13
const TIMING = {
  viewTimeoutMs: 1_500,
  phaseTimeoutMs: 3_000,
  roundsPerBatch: 4,
  viewsPerRound: 3,
  transmitStepMs: 1_000,
}

/** Member i's price in round r: distinct per member, moving with the round. */
const priceOf = (i: number, r: number) => 3_000_00000000n + BigInt(r) * 1_000_000n + BigInt(i) * 7n

type Running = {
  index: number
  db: Db
  repo: OcaRepository
  host: CommitteeHost
  member: OcaMember
}

describe(`OCA committee of 4 over libp2p (${process.env.DATABASE_URL ? 'Postgres' : 'PGlite'})`, () => {
  let chain: TestChain
  let logger: Logger
  let dir: string
  let configDigest: Hex
  let aggregator: Address
  const schemas: string[] = []
  const p2pKeys: Ed25519PrivateKey[] = []
  const ports: number[] = []
  const accounts = Array.from({ length: N }, (_, i) => memberAccount(SEED, i + 1))
  const oracles = accounts.map((a) => a.address)
  let committee: CommitteeMember[]
  const transmitters: ChainClient[] = []
  const running = new Map<number, Running>()
  const outcomes: (RoundOutcome & { member: number })[] = []
  const warnings: Record<string, unknown>[] = []

  const openDb = (i: number) =>
    process.env.DATABASE_URL
      ? openDatabase({ url: process.env.DATABASE_URL, schema: schemas[i - 1]!, poolSize: 3 })
      : openDatabase({ dataDir: join(dir, `member-${i}`) })

  async function startHost(i: number): Promise<CommitteeHost> {
    return createCommitteeHost(
      { logger },
      {
        privateKey: p2pKeys[i - 1]!,
        oracle: oracles[i - 1]!,
        committee,
        configDigest,
        listen: [`/ip4/127.0.0.1/tcp/${ports[i - 1]}`],
        backoff: { initialMs: 50, maxMs: 500 },
      },
    )
  }

  async function openRepo(db: Db): Promise<OcaRepository> {
    return createOcaRepository(
      db,
      createSealer(await openSealingKey(db, PASSWORD, { scryptN: 2 ** 10 })),
    )
  }

  const params = (): OcaMemberParams => ({ configDigest, oracles, f: F, ...TIMING })

  /** Called after a member's nonce store recorded a use, before the partial is computed. */
  let afterNonceUse: (member: number, round: number) => void = () => {}
  const hooked = (i: number, repo: OcaRepository): OcaRepository => ({
    ...repo,
    nonceStore(digest) {
      const inner = repo.nonceStore(digest)
      return {
        get: (round, view) => inner.get(round, view),
        async use(round, view, message) {
          await inner.use(round, view, message)
          afterNonceUse(i, round)
        },
      }
    },
  })

  async function startMember(i: number, host: CommitteeHost, db: Db, repo: OcaRepository) {
    const member = await createOcaMember(
      {
        logger,
        host,
        store: hooked(i, repo),
        observe: async (round) => priceOf(i, round),
        signObservation: (digest) => accounts[i - 1]!.signMessage({ message: { raw: digest } }),
        latestRound: () => readLatestRound(chain.owner, aggregator),
        transmit: async (report, signature) => {
          await sendTransmit(transmitters[i - 1]!, aggregator, report, signature)
        },
        onOutcome: (o) => outcomes.push({ ...o, member: i }),
      },
      params(),
    )
    running.set(i, { index: i, db, repo, host, member })
  }

  async function stopMember(i: number) {
    const r = running.get(i)!
    running.delete(i)
    await r.member.stop()
    await r.host.stop()
    await r.db.close()
  }

  const latest = () => readLatestRound(chain.owner, aggregator)

  /** Starts `round` at every running member and waits until it is on chain. */
  async function playRound(round: number) {
    await Promise.all([...running.values()].map((r) => r.member.startRound(round)))
    await waitFor(
      `round ${round} on chain`,
      async () => ((await latest()) >= round ? true : undefined),
      20_000,
    )
    const [roundId, answer] = await chain.owner.readContract({
      address: aggregator,
      abi: ThresholdAggregatorAbi,
      functionName: 'latestRoundData',
    })
    assert.equal(roundId, BigInt(round))
    // The median of 2f+1 of the members' observations lies within the observations.
    assert.ok(
      answer >= priceOf(1, round) && answer <= priceOf(N, round),
      `round ${round}: ${answer}`,
    )
  }

  before(async () => {
    // Warnings are kept (malformed messages must be logged with a reason); OCA_TEST_LOG=info shows all.
    logger = pino(
      { level: process.env.OCA_TEST_LOG ?? 'warn' },
      {
        write(line: string) {
          warnings.push(JSON.parse(line) as Record<string, unknown>)
          if (process.env.OCA_TEST_LOG) process.stderr.write(line)
        },
      },
    )
    dir = await mkdtemp(join(tmpdir(), 'orakel-oca-e2e-'))
    chain = await startTestChain()
    for (let i = 0; i < N; i++) {
      p2pKeys.push(await generateP2pKey())
      ports.push(await freePort())
      schemas.push(`t_${randomBytes(6).toString('hex')}`)
      transmitters.push(
        await createChainClient({
          rpcUrl: chain.anvil.rpcUrl,
          privateKey: ANVIL_PRIVATE_KEYS[1 + i]!,
          pollingInterval: 20,
        }),
      )
    }
    committee = oracles.map((oracle, i) => ({
      oracle,
      peerId: peerIdOf(p2pKeys[i]!),
      addrs: [`/ip4/127.0.0.1/tcp/${ports[i]}`],
    }))
    // The aggregator's address, hence its config digest, is known before it is deployed: the
    // group key's DKG is bound to it.
    aggregator = getContractAddress({
      from: chain.owner.account.address,
      nonce: BigInt(
        await chain.owner.getTransactionCount({ address: chain.owner.account.address }),
      ),
    })
    configDigest = configDigestOf({
      chainId: chain.owner.chain.id,
      aggregator,
      oracles,
      f: F,
      epoch: EPOCH,
    })
  })

  after(async () => {
    for (const i of [...running.keys()]) await stopMember(i).catch(() => {})
    await chain?.stop()
    if (process.env.DATABASE_URL) {
      const admin = await openDatabase({ url: process.env.DATABASE_URL, poolSize: 1 })
      for (const s of schemas)
        await admin.exec(`DROP SCHEMA IF EXISTS ${s} CASCADE`).catch(() => {})
      await admin.close()
    }
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('runs the DKG, signs and transmits rounds, and survives a member restart without nonce reuse', async () => {
    const started = Date.now()
    // ---- group key over the network ----
    const opened = await Promise.all(
      Array.from({ length: N }, async (_, k) => {
        const i = k + 1
        const db = await openDb(i)
        const repo = await openRepo(db)
        const host = await startHost(i)
        return { i, db, repo, host }
      }),
    )
    const keys = await Promise.all(
      opened.map(({ host, repo }) =>
        ensureGroupKey(
          { host, store: repo, logger },
          { configDigest, oracles, f: F, phaseTimeoutMs: 5_000 },
        ),
      ),
    )
    for (const k of keys) {
      assert.equal(k.groupKey, keys[0]!.groupKey)
      assert.deepEqual(k.shareKeys, keys[0]!.shareKeys)
      assert.deepEqual(k.qualified, [1, 2, 3, 4])
    }
    const groupKey = toPublicKey(parsePoint(keys[0]!.groupKey))
    const deployed = await deployContract(chain.owner, {
      name: 'ThresholdAggregator',
      abi: ThresholdAggregatorAbi,
      bytecode: ThresholdAggregatorBytecode,
      args: [groupKey.x, groupKey.parity, oracles, F, EPOCH, 1n, 10n ** 20n, 8, 'ETH / USD'],
    })
    assert.equal(deployed, getAddress(aggregator))
    assert.equal(
      await chain.owner.readContract({
        address: aggregator,
        abi: ThresholdAggregatorAbi,
        functionName: 'configDigest',
      }),
      configDigest,
    )
    for (const { i, db, repo, host } of opened) await startMember(i, host, db, repo)
    const dkgDone = Date.now() // databases opened, hosts up, group key made, aggregator deployed

    // ---- malformed payloads from a member are dropped with a logged reason ----
    const garbage = (type: string, text: string | Uint8Array, round = 1n) =>
      opened[0]!.host.broadcast({
        round,
        type,
        payload: typeof text === 'string' ? new TextEncoder().encode(text) : text,
      })
    garbage('oca/propose', '{"view":0,"observations":"all of them"}')
    garbage('oca/commit', Uint8Array.of(0xc3, 0x28))
    garbage('oca/reveal', '{"view":0,"message":"0x00","sigma":"0x00"}', 0n)
    garbage('dkg/deal', 'not json', 0n)
    garbage('dkg/share', '{"session":"nonces/0","shares":[]}', 0n)
    await waitFor('the malformed messages to be logged', () =>
      warnings.filter((w) => /dropped a malformed (OCA|DKG) message/.test(String(w.msg))).length >=
      5 * (N - 1)
        ? true
        : undefined,
    )
    const reasons = new Set(warnings.map((w) => String(w.reason)))
    for (const reason of [
      'malformed propose: observations: Invalid input: expected array, received string',
      'payload is not UTF-8',
      'round outside uint32: 0',
      'payload is not JSON',
      'malformed dkg share: shares: Too small: expected array to have >=1 items',
    ])
      assert.ok(reasons.has(reason), `${reason} in ${[...reasons].join(' | ')}`)

    // ---- five rounds with all four ----
    for (let round = 1; round <= 5; round++) await playRound(round)

    // ---- round 6: member 2 crashes right after recording its nonce as used, before its partial
    // signature is computed or sent (its member stops at once: nothing more goes out) ----
    const stoppedRepo = running.get(STOPPED)!.repo
    let stopping: Promise<NonceRecord[]> | undefined
    afterNonceUse = (i, round) => {
      if (i !== STOPPED || round !== 6 || stopping) return
      const r = running.get(STOPPED)!
      const stopped = r.member.stop() // synchronously stops sending; the rest settles below
      stopping = (async () => {
        await stopped
        const records = await stoppedRepo.nonceRecords(configDigest)
        await stopMember(STOPPED)
        return records
      })()
    }
    await Promise.all([...running.values()].map((r) => r.member.startRound(6)))
    await waitFor('round 6 on chain', async () => ((await latest()) >= 6 ? true : undefined))
    const beforeStop = await await waitFor('member 2 to sign round 6', () => stopping)
    const usedBeforeStop = beforeStop.filter((r) => r.message)

    // ---- rounds 7–9 with three members (member 2, down, leads view 0 of round 9) ----
    for (let round = 7; round <= 9; round++) await playRound(round)

    // ---- member 2 restarts from its database, with the same key and address ----
    {
      const db = await openDb(STOPPED)
      const repo = await openRepo(db)
      const host = await startHost(STOPPED)
      await startMember(STOPPED, host, db, repo)
      const store = repo.nonceStore(configDigest)
      const signed = usedBeforeStop.find((r) => r.round === 6)!
      await assert.rejects(
        store.use(signed.round, signed.view, keccak256(signed.message!)),
        NonceReuseError,
        'a nonce used before the crash refuses another message',
      )
    }
    for (let round = 10; round <= 14; round++) await playRound(round)

    // Let the fallbacks of the last round finish their step, then stop everyone.
    await new Promise((r) => setTimeout(r, (N - 1) * TIMING.transmitStepMs + 300))
    const records = new Map<number, NonceRecord[]>()
    for (const [i, r] of running) records.set(i, await r.repo.nonceRecords(configDigest))
    for (const i of [...running.keys()]) await stopMember(i)

    // ---- exactly one transmit per round, all successful ----
    const head = await chain.owner.getBlockNumber()
    const sent: { round: number; nonceAddress: Address; ok: boolean; from: Address }[] = []
    for (let b = 1n; b <= head; b++) {
      const block = await chain.owner.getBlock({ blockNumber: b, includeTransactions: true })
      for (const tx of block.transactions) {
        if (tx.to?.toLowerCase() !== aggregator.toLowerCase()) continue
        const { functionName, args } = decodeFunctionData({
          abi: ThresholdAggregatorAbi,
          data: tx.input,
        })
        assert.equal(functionName, 'transmit')
        const receipt = await chain.owner.getTransactionReceipt({ hash: tx.hash })
        const a = args as readonly [number, bigint, Hex, bigint, Address]
        sent.push({
          round: Number(a[0]),
          nonceAddress: a[4],
          ok: receipt.status === 'success',
          from: tx.from,
        })
      }
    }
    assert.deepEqual(
      sent.map((s) => s.round),
      Array.from({ length: 14 }, (_, k) => k + 1),
      'one transmit per round, in order',
    )
    assert.ok(
      sent.every((s) => s.ok),
      'no transmit reverted',
    )
    assert.equal(
      new Set(sent.map((s) => s.nonceAddress)).size,
      14,
      'every signature has its own nonce',
    )

    // Each round: one member transmitted; every other member that signed it stood down.
    for (let round = 1; round <= 14; round++) {
      const of = outcomes.filter((o) => o.round === round)
      assert.equal(of.filter((o) => o.transmission === 'transmitted').length, 1, `round ${round}`)
      assert.equal(of.filter((o) => o.transmission === 'failed').length, 0, `round ${round}`)
      assert.ok(of.length >= N - F, `round ${round}: ${of.length} members signed`)
      const chosen = of.find((o) => o.transmission === 'transmitted')!
      assert.equal(
        getAddress(sent[round - 1]!.from),
        transmitters[chosen.member - 1]!.account.address,
      )
      // The designated transmitter sent whenever it had the signature itself.
      if (of.some((o) => o.member === chosen.transmitter))
        assert.equal(chosen.member, chosen.transmitter, `round ${round}: designated transmitter`)
    }

    // ---- nonces: stored, used once, consistent with what was signed ----
    for (const o of outcomes) {
      const rec = (records.get(o.member) ?? []).find(
        (r) => r.round === o.round && r.view === o.view,
      )
      assert.ok(rec, `member ${o.member} has the nonce of round ${o.round} view ${o.view}`)
      assert.equal(pointAddress(parsePoint(rec.point)), o.signature.nonceAddress)
      assert.equal(rec.message, reportMessage(configDigest, o.report))
    }
    for (const [i, list] of records) {
      const used = list.filter((r) => r.message)
      assert.equal(
        new Set(used.map((r) => r.point)).size,
        used.length,
        `member ${i}: a point twice`,
      )
      assert.equal(new Set(used.map((r) => `${r.round}/${r.view}`)).size, used.length)
    }
    // The same (round, view) has the same nonce point at every member that holds it.
    const byKey = new Map<string, string>()
    for (const list of records.values())
      for (const r of list) {
        const k = `${r.round}/${r.view}`
        assert.equal(byKey.get(k) ?? r.point, r.point, `nonce of ${k}`)
        byKey.set(k, r.point)
      }
    // The restarted member kept every use it recorded before the stop.
    const after = records.get(STOPPED)!
    for (const r of usedBeforeStop) {
      const now = after.find((x) => x.round === r.round && x.view === r.view)
      assert.equal(now?.message, r.message, `round ${r.round} view ${r.view}`)
    }
    // …and signs again once it has nonces made after its restart.
    assert.ok(
      outcomes.some((o) => o.member === STOPPED && o.round >= 10),
      'the restarted member signs again',
    )
    assert.ok(!outcomes.some((o) => o.member === STOPPED && o.round >= 7 && o.round <= 9))
    const total = Date.now() - started
    logger.warn({ setup_ms: dkgDone - started, total_ms: total }, 'OCA e2e timings')
  })
})
