import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import {
  type Address,
  decodeErrorResult,
  encodeDeployData,
  type Hex,
  keccak256,
  toHex,
  zeroAddress,
} from 'viem'
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts'
import {
  FeedProxyAbi,
  FeedProxyBytecode,
  FeedReaderAbi,
  FeedReaderBytecode,
  ThresholdAggregatorAbi,
  ThresholdAggregatorBytecode,
} from '../../artifacts/abis.ts'
import { startAnvil } from '../../src/chain/anvil.ts'
import { createChainClient } from '../../src/chain/client.ts'
import { revertDataOf } from '../../src/chain/revert.ts'
import {
  deployContract,
  expectRevert,
  send,
  startTestChain,
  type TestChain,
} from '../../src/chain/testing.ts'
import { thresholdCommittee } from '../../src/crypto/dkg-testing.ts'
import { Q, type SchnorrSignature } from '../../src/crypto/schnorr.ts'
import { configDigestOf, reportMessage } from '../../src/oca/report.ts'

type Committee = ReturnType<typeof thresholdCommittee>
const ORACLES = Array.from({ length: 4 }, (_, i) => toHex(i + 1, { size: 20 }) as Address)
const MIN = 1n
const MAX = 10n ** 20n

describe('ThresholdAggregator', () => {
  let chain: TestChain
  let committee: Committee
  before(async () => {
    chain = await startTestChain()
    committee = thresholdCommittee(4, 2, keccak256(toHex('threshold aggregator test')))
  })
  after(async () => {
    await chain?.stop()
  })

  async function deploy(
    c: Committee = committee,
    epoch = 1,
    client = chain.owner,
  ): Promise<Address> {
    return deployContract(client, {
      name: 'ThresholdAggregator',
      abi: ThresholdAggregatorAbi,
      bytecode: ThresholdAggregatorBytecode,
      args: [c.publicKey.x, c.publicKey.parity, ORACLES, 1, epoch, MIN, MAX, 8, 'ETH / USD'],
    })
  }

  async function signedReport(aggregator: Address, round: number, answer: bigint, c = committee) {
    const observationsHash = keccak256(toHex(`observations ${round}`))
    const digest = await chain.owner.readContract({
      address: aggregator,
      abi: ThresholdAggregatorAbi,
      functionName: 'configDigest',
    })
    const sig = c.sign(reportMessage(digest, { round, answer, observationsHash }))
    return { round, answer, observationsHash, sig }
  }

  const args = (r: {
    round: number
    answer: bigint
    observationsHash: Hex
    sig: SchnorrSignature
  }) => [r.round, r.answer, r.observationsHash, r.sig.s, r.sig.nonceAddress] as const

  it('binds chain id, address, committee, f and epoch in its digest, and the report in its message', async () => {
    const aggregator = await deploy()
    const digest = await chain.owner.readContract({
      address: aggregator,
      abi: ThresholdAggregatorAbi,
      functionName: 'configDigest',
    })
    assert.equal(
      digest,
      configDigestOf({
        chainId: chain.owner.chain.id,
        aggregator,
        oracles: ORACLES,
        f: 1,
        epoch: 1,
      }),
    )
    const obs = keccak256('0x01')
    assert.equal(
      await chain.owner.readContract({
        address: aggregator,
        abi: ThresholdAggregatorAbi,
        functionName: 'reportMessage',
        args: [7, 123n, obs],
      }),
      reportMessage(digest, { round: 7, answer: 123n, observationsHash: obs }),
    )
  })

  it('accepts one committee signature per round; an unmodified AggregatorV3 reader sees the answers', async () => {
    const aggregator = await deploy()
    const proxy = await deployContract(chain.owner, {
      name: 'FeedProxy',
      abi: FeedProxyAbi,
      bytecode: FeedProxyBytecode,
      args: [chain.owner.account.address, aggregator],
    })
    const reader = await deployContract(chain.owner, {
      name: 'FeedReader',
      abi: FeedReaderAbi,
      bytecode: FeedReaderBytecode,
      args: [proxy, 3600n],
    })
    for (const [round, answer] of [
      [1, 300_000_000_000n],
      [2, 301_000_000_000n],
      [5, 299_500_000_000n],
    ] as const) {
      // Any 2 of the 4 members sign; the transmitter needs no role.
      const report = await signedReport(aggregator, round, answer)
      await send(chain.stranger, {
        address: aggregator,
        abi: ThresholdAggregatorAbi,
        functionName: 'transmit',
        args: args(report),
      })
      const [rid, seen] = await chain.owner.readContract({
        address: reader,
        abi: FeedReaderAbi,
        functionName: 'latest',
      })
      assert.deepEqual([rid, seen], [BigInt(round), answer])
    }
    // A new committee epoch: a new aggregator behind the same proxy.
    const next = thresholdCommittee(4, 2, keccak256(toHex('epoch 2')))
    const successor = await deploy(next, 2)
    await send(chain.owner, {
      address: proxy,
      abi: FeedProxyAbi,
      functionName: 'setAggregator',
      args: [successor],
    })
    await send(chain.owner, {
      address: successor,
      abi: ThresholdAggregatorAbi,
      functionName: 'transmit',
      args: args(await signedReport(successor, 1, 310_000_000_000n, next)),
    })
    const [, answer] = await chain.owner.readContract({
      address: reader,
      abi: FeedReaderAbi,
      functionName: 'latest',
    })
    assert.equal(answer, 310_000_000_000n)
    // Only the owner re-points the proxy, and only at a contract.
    await expectRevert(
      chain.stranger,
      { address: proxy, abi: FeedProxyAbi, functionName: 'setAggregator', args: [aggregator] },
      'NotOwner',
    )
    await expectRevert(
      chain.owner,
      { address: proxy, abi: FeedProxyAbi, functionName: 'setAggregator', args: [ORACLES[0]!] },
      'InvalidAggregator',
      [ORACLES[0]],
    )
  })

  it('refuses replays: an older round, another aggregator, another epoch, another chain id', async () => {
    // A fresh deployer: its first deployment has the same address on every chain.
    const key = generatePrivateKey()
    const fund = async (rpc: TestChain['owner']) => {
      await rpc.request({
        method: 'anvil_setBalance',
        params: [privateKeyToAddress(key), toHex(10n ** 20n)],
      } as never)
    }
    await fund(chain.owner)
    const deployer = await createChainClient({ rpcUrl: chain.anvil.rpcUrl, privateKey: key })
    const aggregator = await deploy(committee, 1, deployer)
    const report = await signedReport(aggregator, 3, 1000n)
    const transmit = (address: Address, a: readonly unknown[]) =>
      ({ address, abi: ThresholdAggregatorAbi, functionName: 'transmit', args: a }) as const
    await send(chain.owner, transmit(aggregator, args(report)))
    await expectRevert(chain.owner, transmit(aggregator, args(report)), 'StaleRound', [3, 3])
    const older = await signedReport(aggregator, 2, 1000n)
    await expectRevert(chain.owner, transmit(aggregator, args(older)), 'StaleRound', [2, 3])
    // The same committee and key, another aggregator (or a later epoch): the digest differs.
    for (const other of [await deploy(), await deploy(committee, 2)]) {
      await expectRevert(chain.owner, transmit(other, args(report)), 'InvalidSignature')
    }
    // The same deployment, at the same address, on a chain with another id.
    const anvil = await startAnvil({ chainId: 1337 })
    try {
      const client = await createChainClient({ rpcUrl: anvil.rpcUrl, privateKey: key })
      await fund(client)
      const elsewhere = await deploy(committee, 1, client)
      assert.equal(elsewhere, aggregator, 'same deployer and nonce: same address on both chains')
      await expectRevert(client, transmit(elsewhere, args(report)), 'InvalidSignature')
    } finally {
      await anvil.stop()
    }
  })

  it('refuses out-of-bounds answers and signatures from fewer than t members or another key', async () => {
    const aggregator = await deploy()
    const call = (a: readonly unknown[]) =>
      ({
        address: aggregator,
        abi: ThresholdAggregatorAbi,
        functionName: 'transmit',
        args: a,
      }) as const
    await expectRevert(
      chain.owner,
      call(args(await signedReport(aggregator, 1, MAX + 1n))),
      'AnswerOutOfBounds',
    )
    await expectRevert(
      chain.owner,
      call(args(await signedReport(aggregator, 1, 0n))),
      'AnswerOutOfBounds',
    )
    const stranger = thresholdCommittee(4, 2, keccak256(toHex('another committee')))
    await expectRevert(
      chain.owner,
      call(args(await signedReport(aggregator, 1, 1000n, stranger))),
      'InvalidSignature',
    )
    // One member alone (t = 2): its "signature" combines a single partial.
    const digest = await chain.owner.readContract({
      address: aggregator,
      abi: ThresholdAggregatorAbi,
      functionName: 'configDigest',
    })
    const obs = keccak256('0x02')
    assert.throws(() =>
      committee.sign(
        reportMessage(digest, { round: 1, answer: 1000n, observationsHash: obs }),
        [1],
      ),
    )
  })

  it('thousands of mutated reports and signatures: none is accepted', async () => {
    const aggregator = await deploy()
    const base = await signedReport(aggregator, 10, 5000n)
    let refused = 0
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('round', 'answer', 'observations', 's', 'address', 'sZero', 'sQ'),
        fc.bigInt({ min: 1n, max: 2n ** 64n }),
        async (field, delta) => {
          const r = structuredClone(base)
          if (field === 'round') r.round = (r.round + Number(delta % 1000n) + 1) % 2 ** 32 || 11
          if (field === 'answer') r.answer = MIN + ((r.answer + delta) % (MAX - MIN))
          if (field === 'observations')
            r.observationsHash = keccak256(
              `${r.observationsHash}${delta.toString(16).padStart(2, '0')}` as Hex,
            )
          if (field === 's') r.sig.s = (r.sig.s + delta) % Q
          if (field === 'address')
            r.sig.nonceAddress = toHex((BigInt(r.sig.nonceAddress) ^ delta) % 2n ** 160n, {
              size: 20,
            })
          if (field === 'sZero') r.sig.s = 0n
          if (field === 'sQ') r.sig.s = Q + (delta % 1000n)
          if (
            r.round === base.round &&
            r.answer === base.answer &&
            r.sig.s === base.sig.s &&
            r.sig.nonceAddress === base.sig.nonceAddress &&
            r.observationsHash === base.observationsHash
          )
            return
          let accepted = true
          try {
            await chain.owner.simulateContract({
              address: aggregator,
              abi: ThresholdAggregatorAbi,
              functionName: 'transmit',
              args: args(r),
              account: chain.owner.account,
            })
          } catch {
            accepted = false
          }
          assert.equal(accepted, false, `a report with a mutated ${field} was accepted`)
          refused += 1
        },
      ),
      { numRuns: 2000 },
    )
    assert.ok(refused > 1900)
    // The original still passes (the mutations were refused for being mutations).
    await send(chain.owner, {
      address: aggregator,
      abi: ThresholdAggregatorAbi,
      functionName: 'transmit',
      args: args(base),
    })
  })

  it('refuses an invalid group key, committee or bounds at deployment', async () => {
    const bad: [unknown[], string][] = [
      [[0n, 0, ORACLES, 1, 1, MIN, MAX, 8, 'x'], 'InvalidGroupKey'],
      [[Q, 0, ORACLES, 1, 1, MIN, MAX, 8, 'x'], 'InvalidGroupKey'],
      [[committee.publicKey.x, 2, ORACLES, 1, 1, MIN, MAX, 8, 'x'], 'InvalidGroupKey'],
      [[committee.publicKey.x, 0, ORACLES.slice(0, 3), 1, 1, MIN, MAX, 8, 'x'], 'InvalidCommittee'],
      [[committee.publicKey.x, 0, [], 0, 1, MIN, MAX, 8, 'x'], 'InvalidCommittee'],
      [
        [committee.publicKey.x, 0, [...ORACLES.slice(0, 3), ORACLES[0]], 1, 1, MIN, MAX, 8, 'x'],
        'InvalidOracle',
      ],
      [
        [committee.publicKey.x, 0, [...ORACLES.slice(0, 3), zeroAddress], 1, 1, MIN, MAX, 8, 'x'],
        'InvalidOracle',
      ],
      [[committee.publicKey.x, 0, ORACLES, 1, 1, MAX, MIN, 8, 'x'], 'InvalidBounds'],
    ]
    for (const [a, error] of bad) {
      // Run the deployment as a call and decode its revert data.
      let data: Hex | undefined
      try {
        await chain.owner.call({
          data: encodeDeployData({
            abi: ThresholdAggregatorAbi,
            bytecode: ThresholdAggregatorBytecode,
            args: a as never,
          }),
        })
      } catch (err) {
        data = revertDataOf(err)
      }
      assert.ok(data, `deployment with ${error} did not revert`)
      assert.equal(decodeErrorResult({ abi: ThresholdAggregatorAbi, data }).errorName, error)
    }
  })
})
