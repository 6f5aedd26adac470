/**
 * The order-matching market on a real anvil, for its tests and benchmark: LinkToken, Reputation,
 * OrderMatching with pool CommitRevealAggregators, a MedianAggregation, and purchaser and oracle
 * accounts that sign their own transactions and hold LINK. Nothing is mocked: bids and
 * proposals go through `LINK.transferAndCall`, committees commit and reveal on the aggregator.
 */
import {
  type Abi,
  type Address,
  decodeErrorResult,
  encodeFunctionData,
  type Hex,
  keccak256,
  parseEventLogs,
  type TransactionReceipt,
  toHex,
  zeroAddress,
} from 'viem'
import {
  CommitRevealAggregatorAbi,
  LinkTokenAbi,
  MedianAggregationAbi,
  MedianAggregationBytecode,
  OrderMatchingAbi,
  ReputationAbi,
  SlaAggregatorFactoryAbi,
  ThresholdAggregatorAbi,
} from '../../artifacts/abis.ts'
import { thresholdCommittee } from '../crypto/dkg-testing.ts'
import { configDigestOf, reportMessage } from '../oca/report.ts'
import { commitmentOf, randomSalt } from './commit-reveal.ts'
import { fundedSigners, type Signer } from './commit-reveal-testing.ts'
import { deployContract, deployLinkToken } from './deploy.ts'
import { AGGREGATION_MODE, bidData, deployMarket, proposeData, type SlaProposal } from './market.ts'
import { revertDataOf } from './revert.ts'
import { allErrorsAbi, fundLink, LINK, type TestChain } from './testing.ts'

export const MARKET_ABI = [...OrderMatchingAbi, ...allErrorsAbi] as Abi
export const FACTORY_ABI = [...SlaAggregatorFactoryAbi, ...allErrorsAbi] as Abi
const AGGREGATOR_ABI = [...CommitRevealAggregatorAbi, ...allErrorsAbi] as Abi

/** `IOrderMatching.SLAView` as viem decodes it. */
export type SlaView = {
  status: number
  purchaser: Address
  specId: Hex
  n: number
  mode: number
  aggregation: Address
  minReputation: number
  agreementBps: number
  paymentPerOracle: bigint
  minDeposit: bigint
  biddingEnd: number
  responseDeadline: number
  bids: bigint
  escrow: bigint
  lockedDeposits: bigint
  aggregatorRefund: bigint
  aggregator: Address
  roundId: bigint
  clearingPrice: bigint
}

/** `IReputation.Record` as viem decodes it. */
export type ReputationRecord = {
  assigned: number
  completed: number
  accepted: number
  missed: number
  depositsLocked: bigint
  totalResponseSeconds: bigint
  penaltiesPaid: bigint
}

export type MarketFixture = {
  chain: TestChain
  link: Address
  market: Address
  reputation: Address
  aggregators: Address[]
  /** MedianAggregation(3): the aggregation of a committee of 4 (f = 1). */
  median: Address
  purchasers: Signer[]
  oracles: Signer[]
  /** Block timestamp of the latest block. */
  now(): Promise<number>
  /** A proposal for a committee of 4 opening now, with `overrides`. */
  proposal(overrides?: Partial<SlaProposal>): Promise<SlaProposal>
  /** Posts `proposal` from `purchaser` with `escrow` (n × payment by default). */
  propose(
    purchaser: Signer,
    proposal: SlaProposal,
    escrow?: bigint,
  ): Promise<{ receipt: TransactionReceipt; slaId: bigint }>
  /** Bids `price` on `slaId` from `oracle` with `deposit` (the SLA's minimum by default). */
  bid(oracle: Signer, slaId: bigint, price: bigint, deposit: bigint): Promise<TransactionReceipt>
  /** Calls the market from `signer`; the receipt may be a revert. */
  call(
    signer: Signer,
    functionName: string,
    args: readonly unknown[],
    gas?: bigint,
  ): Promise<TransactionReceipt>
  read<T>(functionName: string, args?: readonly unknown[]): Promise<T>
  sla(slaId: bigint): Promise<SlaView>
  record(oracle: Address, specId: Hex): Promise<ReputationRecord>
  /** The custom error a market call would revert with (undefined when it would succeed). */
  revertOf(
    signer: Signer | Address,
    functionName: string,
    args: readonly unknown[],
  ): Promise<string | undefined>
  /** The custom error `LINK.transferAndCall(market, amount, data)` would revert with. */
  transferRevertOf(signer: Signer, amount: bigint, data: Hex): Promise<string | undefined>
  /**
   * The committee of `slaId` answers: member i commits and reveals `values[i]` (undefined: it
   * stays silent). Returns the receipts of the reveals.
   */
  serve(
    slaId: bigint,
    values: readonly (bigint | undefined)[],
    options?: { secondsBeforeReveals?: number },
  ): Promise<TransactionReceipt[]>
  /** The signer of a committee member. */
  signerOf(address: Address): Signer
  /** The market's SlaAggregatorFactory. */
  factory: Address
  /** A proposal served by off-chain aggregation (no aggregation function), with `overrides`. */
  ocaProposal(overrides?: Partial<SlaProposal>): Promise<SlaProposal>
  /**
   * The committee of a serving off-chain-aggregation SLA and its group key, made as the nodes
   * make it: a DKG (in process) bound to the config digest of the SLA's predicted aggregator.
   */
  ocaCommittee(slaId: bigint): Promise<OcaCommittee>
}

export type OcaCommittee = {
  members: Address[]
  f: number
  aggregator: Address
  configDigest: Hex
  key: ReturnType<typeof thresholdCommittee>
  /** Member i confirms `key` (the committee's by default); the receipt may be a revert. */
  confirm(i: number, key?: { x: bigint; parity: number }): Promise<TransactionReceipt>
  /** The committee signs round `round` with `answer`; `from` transmits it. */
  transmit(from: Signer, round: number, answer: bigint): Promise<TransactionReceipt>
}

export type DeployMarketFixtureParameters = {
  /** Pool aggregators (default 2). */
  aggregators?: number
  purchasers?: number
  oracles?: number
  /** LINK each account gets (default 1,000). */
  funds?: bigint
  /** A LINK-compatible token the owner holds (a new LinkToken by default). */
  link?: Address
}

export const SPEC_ID = toHex('sla-median-price', { size: 32 })
export const CBOR_PARAMS = '0x63676574781968747470733a2f2f6578616d706c652e636f6d2f7072696365' as Hex

export async function deployMarketFixture(
  chain: TestChain,
  params: DeployMarketFixtureParameters = {},
): Promise<MarketFixture> {
  const owner = chain.owner
  const link = params.link ?? (await deployLinkToken(owner))
  const { market, reputation, aggregators } = await deployMarket(owner, {
    link,
    aggregators: params.aggregators ?? 2,
  })
  const median = await deployContract(owner, {
    name: 'MedianAggregation',
    abi: MedianAggregationAbi,
    bytecode: MedianAggregationBytecode,
    args: [3n],
  })
  const purchasers = await fundedSigners(chain, params.purchasers ?? 2)
  const oracles = await fundedSigners(chain, params.oracles ?? 6)
  const funds = params.funds ?? 1000n * LINK
  for (const s of [...purchasers, ...oracles]) await fundLink(chain, link, s.address, funds)
  const signers = new Map([...purchasers, ...oracles].map((s) => [s.address, s]))

  const call = (signer: Signer, functionName: string, args: readonly unknown[], gas?: bigint) =>
    signer.send(market, encodeFunctionData({ abi: MARKET_ABI, functionName, args }), gas)
  const read = <T>(functionName: string, args: readonly unknown[] = []) =>
    owner.readContract({ address: market, abi: MARKET_ABI, functionName, args }) as Promise<T>
  const transferAndCall = (signer: Signer, amount: bigint, data: Hex, gas?: bigint) =>
    signer.send(
      link,
      encodeFunctionData({
        abi: LinkTokenAbi,
        functionName: 'transferAndCall',
        args: [market, amount, data],
      }),
      gas,
    )
  async function errorOf(from: Address, to: Address, data: Hex, abi: Abi) {
    try {
      await owner.call({ account: from, to, data })
      return undefined
    } catch (err) {
      const revert = revertDataOf(err)
      if (!revert) throw err
      return decodeErrorResult({ abi, data: revert }).errorName
    }
  }
  const now = async () => Number((await owner.getBlock()).timestamp)
  const factory = (await read<Address>('aggregatorFactory')) as Address

  const fixture: MarketFixture = {
    chain,
    link,
    market,
    reputation,
    aggregators,
    median,
    purchasers,
    oracles,
    now,
    async proposal(overrides = {}) {
      const t = await now()
      return {
        specId: SPEC_ID,
        data: CBOR_PARAMS,
        n: 4,
        mode: AGGREGATION_MODE.CommitReveal,
        aggregation: median,
        minReputation: 0,
        agreementBps: 100,
        paymentPerOracle: LINK,
        minDeposit: 5n * LINK,
        biddingEnd: t + 100,
        responseDeadline: t + 100 + 600,
        ...overrides,
      }
    },
    async propose(purchaser, proposal, escrow) {
      const amount = escrow ?? BigInt(proposal.n) * proposal.paymentPerOracle
      const receipt = await transferAndCall(purchaser, amount, proposeData(proposal))
      if (receipt.status !== 'success') throw new Error('propose reverted')
      const [event] = parseEventLogs({
        abi: OrderMatchingAbi,
        logs: receipt.logs,
        eventName: 'SLAProposed',
      })
      if (!event) throw new Error('no SLAProposed event')
      return { receipt, slaId: event.args.slaId }
    },
    bid: (oracle, slaId, price, deposit) =>
      transferAndCall(oracle, deposit, bidData(slaId, price), 500_000n),
    call,
    read,
    sla: (slaId) => read<SlaView>('getSLA', [slaId]),
    record: (oracle, specId) =>
      owner.readContract({
        address: reputation,
        abi: ReputationAbi,
        functionName: 'getRecord',
        args: [oracle, specId],
      }) as Promise<ReputationRecord>,
    revertOf: (signer, functionName, args) =>
      errorOf(
        typeof signer === 'string' ? signer : signer.address,
        market,
        encodeFunctionData({ abi: MARKET_ABI, functionName, args }),
        MARKET_ABI,
      ),
    transferRevertOf: (signer, amount, data) =>
      errorOf(
        signer.address,
        link,
        encodeFunctionData({
          abi: LinkTokenAbi,
          functionName: 'transferAndCall',
          args: [market, amount, data],
        }),
        MARKET_ABI,
      ),
    signerOf(address) {
      const s = signers.get(address)
      if (!s) throw new Error(`no signer for ${address}`)
      return s
    },
    factory,
    async ocaProposal(overrides = {}) {
      return fixture.proposal({
        mode: AGGREGATION_MODE.OffchainAggregation,
        aggregation: zeroAddress,
        agreementBps: 0,
        ...overrides,
      })
    },
    async ocaCommittee(slaId) {
      const v = await fixture.sla(slaId)
      const members = await read<Address[]>('committeeOf', [slaId])
      const f = Math.floor((members.length - 1) / 3)
      const configDigest = configDigestOf({
        chainId: owner.chain.id,
        aggregator: v.aggregator,
        oracles: members,
        f,
        epoch: 1,
      })
      const key = thresholdCommittee(members.length, f + 1, configDigest)
      return {
        members,
        f,
        aggregator: v.aggregator,
        configDigest,
        key,
        confirm: (i, k = key.publicKey) =>
          call(
            fixture.signerOf(members[i] as Address),
            'confirmGroupKey',
            [slaId, k.x, k.parity],
            3_000_000n,
          ),
        transmit(from, round, answer) {
          const observationsHash = keccak256(toHex(`observations of round ${round}`))
          const sig = key.sign(reportMessage(configDigest, { round, answer, observationsHash }))
          return from.send(
            v.aggregator,
            encodeFunctionData({
              abi: ThresholdAggregatorAbi,
              functionName: 'transmit',
              args: [round, answer, observationsHash, sig.s, sig.nonceAddress],
            }),
            200_000n,
          )
        },
      }
    },
    async serve(slaId, values, options = {}) {
      const v = await fixture.sla(slaId)
      const committee = await read<Address[]>('committeeOf', [slaId])
      const [configVersion] = (await owner.readContract({
        address: v.aggregator,
        abi: AGGREGATOR_ABI,
        functionName: 'latestConfig',
      })) as [number, unknown]
      const agg = (signer: Signer, functionName: string, args: readonly unknown[]) =>
        signer.send(
          v.aggregator,
          encodeFunctionData({ abi: AGGREGATOR_ABI, functionName, args }),
          1_500_000n,
        )
      const openings: { signer: Signer; value: bigint; salt: Hex }[] = []
      for (const [i, member] of committee.entries()) {
        const value = values[i]
        if (value === undefined) continue
        const signer = fixture.signerOf(member)
        const salt = randomSalt()
        const commitment = commitmentOf({
          chainId: owner.chain.id,
          aggregator: v.aggregator,
          configVersion,
          roundId: v.roundId,
          oracle: member,
          value,
          salt,
        })
        const receipt = await agg(signer, 'commit', [v.roundId, commitment])
        if (receipt.status !== 'success') throw new Error(`commit by member ${i} reverted`)
        openings.push({ signer, value, salt })
      }
      if (options.secondsBeforeReveals) {
        await chain.owner.request({
          method: 'evm_increaseTime',
          params: [options.secondsBeforeReveals],
        } as never)
        await chain.owner.request({ method: 'evm_mine', params: [] } as never)
      }
      const reveals: TransactionReceipt[] = []
      for (const o of openings) {
        const receipt = await agg(o.signer, 'reveal', [v.roundId, o.value, o.salt])
        if (receipt.status !== 'success') throw new Error('reveal reverted')
        reveals.push(receipt)
      }
      return reveals
    },
  }
  return fixture
}
