import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import {
  type Address,
  encodeAbiParameters,
  encodeFunctionData,
  encodePacked,
  type Hex,
  keccak256,
  parseEventLogs,
  type TransactionReceipt,
  toFunctionSelector,
  toHex,
} from 'viem'
import {
  BytesConsumerAbi,
  BytesConsumerBytecode,
  HostileConsumerAbi,
  HostileConsumerBytecode,
  LinkTokenAbi,
  OperatorAbi,
  PriceConsumerAbi,
  PriceConsumerBytecode,
} from '../../artifacts/abis.ts'
import type { CoreDeployment } from '../../src/chain/deploy.ts'
import { type OracleRequestLog, oracleRequestsIn } from '../../src/chain/operator-events.ts'
import {
  deployContract,
  deployTestCore,
  expectRevert,
  fundLink,
  increaseTime,
  LINK,
  linkBalance,
  send,
  sendRaw,
  startTestChain,
  type TestChain,
} from '../../src/chain/testing.ts'
import { decodeDietCbor } from '../../src/pipeline/cbor.ts'

const SPEC_ID = toHex('price-job', { size: 32 })
const PAYMENT = LINK / 10n
const URL = 'http://127.0.0.1:8080/price?pair=ETH-USD'

type OpenRequest = OracleRequestLog

function oracleRequestFrom(receipt: TransactionReceipt): OpenRequest {
  const [request] = oracleRequestsIn(receipt)
  assert.ok(request, 'no OracleRequest event')
  return request
}

describe('Operator', () => {
  let chain: TestChain
  let core: CoreDeployment
  let consumer: Address

  before(async () => {
    chain = await startTestChain()
  })
  after(async () => {
    await chain?.stop()
  })
  beforeEach(async () => {
    core = await deployTestCore(chain)
    consumer = await deployContract(chain.owner, {
      name: 'PriceConsumer',
      abi: PriceConsumerAbi,
      bytecode: PriceConsumerBytecode,
      args: [core.linkToken, core.operator],
    })
    await fundLink(chain, core.linkToken, consumer, 10n * LINK)
  })

  async function requestPrice(useOperatorRequest = false): Promise<OpenRequest> {
    const receipt = await send(chain.owner, {
      address: consumer,
      abi: PriceConsumerAbi,
      functionName: 'requestValue',
      args: [SPEC_ID, PAYMENT, URL, 'data,price', 100n, useOperatorRequest],
    })
    return oracleRequestFrom(receipt)
  }

  function fulfil1(req: OpenRequest, value: bigint, overrides: Partial<OpenRequest> = {}) {
    const r = { ...req, ...overrides }
    return {
      address: core.operator,
      abi: OperatorAbi,
      functionName: 'fulfillOracleRequest',
      args: [
        r.requestId,
        r.payment,
        r.callbackAddr,
        r.callbackFunctionId,
        r.cancelExpiration,
        toHex(value, { size: 32 }),
      ],
    } as const
  }

  function fulfil2(req: OpenRequest, data: Hex, overrides: Partial<OpenRequest> = {}) {
    const r = { ...req, ...overrides }
    return {
      address: core.operator,
      abi: OperatorAbi,
      functionName: 'fulfillOracleRequest2',
      args: [
        r.requestId,
        r.payment,
        r.callbackAddr,
        r.callbackFunctionId,
        r.cancelExpiration,
        data,
      ],
    } as const
  }

  const read = <T>(address: Address, abi: unknown, functionName: string, args: unknown[] = []) =>
    chain.owner.readContract({ address, abi, functionName, args } as never) as Promise<T>

  describe('request and fulfil', () => {
    it('v1: the request is logged, paid, answered and recorded', async () => {
      const before = await linkBalance(chain, core.linkToken, consumer)
      const req = await requestPrice()
      const block = await chain.owner.getBlock()

      assert.equal(req.specId, SPEC_ID)
      assert.equal(req.requester, consumer)
      assert.equal(req.requestId, keccak256(encodePacked(['address', 'uint256'], [consumer, 1n])))
      assert.equal(req.payment, PAYMENT)
      assert.equal(req.callbackAddr, consumer)
      assert.equal(req.callbackFunctionId, toFunctionSelector('fulfill(bytes32,uint256)'))
      assert.equal(req.cancelExpiration, block.timestamp + 300n)
      assert.equal(req.dataVersion, 1n)
      assert.deepEqual(decodeDietCbor(Buffer.from(req.data.slice(2), 'hex')), {
        get: URL,
        path: 'data,price',
        times: 100,
      })
      assert.equal(await linkBalance(chain, core.linkToken, consumer), before - PAYMENT)
      assert.equal(await linkBalance(chain, core.linkToken, core.operator), PAYMENT)
      assert.equal(await read(core.operator, OperatorAbi, 'withdrawable'), 0n)
      assert.equal(await read(consumer, PriceConsumerAbi, 'isPending', [req.requestId]), true)

      const receipt = await send(chain.node, fulfil1(req, 301234n))
      const responses = parseEventLogs({
        abi: OperatorAbi,
        logs: receipt.logs,
        eventName: 'OracleResponse',
      })
      assert.equal(responses.length, 1)
      assert.equal(responses[0]?.args.requestId, req.requestId)
      const answers = parseEventLogs({
        abi: PriceConsumerAbi,
        logs: receipt.logs,
        eventName: 'AnswerReceived',
      })
      assert.deepEqual(answers[0]?.args, { requestId: req.requestId, value: 301234n })
      assert.equal(await read(consumer, PriceConsumerAbi, 'latestAnswer'), 301234n)
      assert.equal(await read(consumer, PriceConsumerAbi, 'isPending', [req.requestId]), false)
      assert.equal(await read(core.operator, OperatorAbi, 'withdrawable'), PAYMENT)

      await send(chain.owner, {
        address: core.operator,
        abi: OperatorAbi,
        functionName: 'withdraw',
        args: [chain.stranger.account.address, PAYMENT],
      })
      assert.equal(
        await linkBalance(chain, core.linkToken, chain.stranger.account.address),
        PAYMENT,
      )
      assert.equal(await linkBalance(chain, core.linkToken, core.operator), 0n)
      assert.equal(await read(core.operator, OperatorAbi, 'withdrawable'), 0n)
    })

    it('v2: operatorRequest is answered with fulfillOracleRequest2', async () => {
      const req = await requestPrice(true)
      assert.equal(req.dataVersion, 2n)
      assert.equal(req.callbackAddr, consumer)
      const data = encodeAbiParameters(
        [{ type: 'bytes32' }, { type: 'uint256' }],
        [req.requestId, 42n],
      )
      const simulated = await chain.node.simulateContract({
        ...fulfil2(req, data),
        account: chain.node.account,
      })
      assert.equal(simulated.result, true)
      await send(chain.node, fulfil2(req, data))
      assert.equal(await read(consumer, PriceConsumerAbi, 'latestAnswer'), 42n)
      assert.equal(await read(core.operator, OperatorAbi, 'withdrawable'), PAYMENT)
    })

    it('a v1 request may be answered through fulfillOracleRequest2, not the reverse', async () => {
      const v1 = await requestPrice(false)
      const data = encodeAbiParameters(
        [{ type: 'bytes32' }, { type: 'uint256' }],
        [v1.requestId, 7n],
      )
      await send(chain.node, fulfil2(v1, data))
      assert.equal(await read(consumer, PriceConsumerAbi, 'latestAnswer'), 7n)

      const v2 = await requestPrice(true)
      await expectRevert(chain.node, fulfil1(v2, 1n), 'DataVersionMismatch', [v2.requestId, 2n, 1n])
    })

    it('bytes: a BytesConsumer receives arbitrary bytes', async () => {
      const bytesConsumer = await deployContract(chain.owner, {
        name: 'BytesConsumer',
        abi: BytesConsumerAbi,
        bytecode: BytesConsumerBytecode,
        args: [core.linkToken, core.operator],
      })
      await fundLink(chain, core.linkToken, bytesConsumer, LINK)
      const receipt = await send(chain.owner, {
        address: bytesConsumer,
        abi: BytesConsumerAbi,
        functionName: 'requestBytes',
        args: [SPEC_ID, PAYMENT, URL, 'name'],
      })
      const req = oracleRequestFrom(receipt)
      assert.equal(req.dataVersion, 2n)
      const value = toHex('a string longer than one word, to be sure it is not truncated anywhere')
      const data = encodeAbiParameters(
        [{ type: 'bytes32' }, { type: 'bytes' }],
        [req.requestId, value],
      )
      await send(chain.node, fulfil2(req, data))
      assert.equal(await read(bytesConsumer, BytesConsumerAbi, 'latestValue'), value)
    })
  })

  describe('requests that are refused (nothing moves)', () => {
    const rawRequest = (args: { callback?: Address; nonce?: bigint; dataVersion?: bigint }): Hex =>
      encodeFunctionData({
        abi: OperatorAbi,
        functionName: 'oracleRequest',
        args: [
          '0x0000000000000000000000000000000000000000',
          0n,
          SPEC_ID,
          args.callback ?? chain.owner.account.address,
          '0x12345678',
          args.nonce ?? 1n,
          args.dataVersion ?? 1n,
          '0xa0',
        ],
      })
    const transferAndCall = (data: Hex, to?: Address) =>
      ({
        address: core.linkToken,
        abi: LinkTokenAbi,
        functionName: 'transferAndCall',
        args: [to ?? core.operator, PAYMENT, data],
      }) as const

    it('oracleRequest and onTokenTransfer called directly, not by LINK', async () => {
      const args = [
        chain.stranger.account.address,
        PAYMENT,
        SPEC_ID,
        chain.stranger.account.address,
        '0x12345678',
        1n,
        1n,
        '0x',
      ] as const
      await expectRevert(
        chain.stranger,
        { address: core.operator, abi: OperatorAbi, functionName: 'oracleRequest', args },
        'NotLinkToken',
        [chain.stranger.account.address],
      )
      await expectRevert(
        chain.stranger,
        {
          address: core.operator,
          abi: OperatorAbi,
          functionName: 'onTokenTransfer',
          args: [chain.stranger.account.address, PAYMENT, rawRequest({})],
        },
        'NotLinkToken',
      )
      await expectRevert(
        chain.stranger,
        {
          address: core.operator,
          abi: OperatorAbi,
          functionName: 'operatorRequest',
          args: [args[0], args[1], args[2], args[4], args[5], args[6], args[7]],
        },
        'NotLinkToken',
      )
    })

    it('a selector other than oracleRequest/operatorRequest', async () => {
      const data = `0xdeadbeef${'00'.repeat(300)}` as Hex
      await expectRevert(chain.owner, transferAndCall(data), 'UnsupportedRequestSelector', [
        '0xdeadbeef',
      ])
    })

    it('data shorter than the selector needs', async () => {
      const full = rawRequest({})
      const short = full.slice(0, 2 + 2 * 200) as Hex
      await expectRevert(chain.owner, transferAndCall(short), 'RequestDataTooShort', [200n, 292n])
      await expectRevert(chain.owner, transferAndCall('0x4042'), 'RequestDataTooShort', [2n, 4n])
    })

    it('malformed ABI words: dirty address, dirty selector, parameters out of bounds', async () => {
      const full = rawRequest({})
      const word = (i: number) => 10 + i * 64
      const dirtyAddress =
        `${full.slice(0, word(3))}${'ff'.repeat(32)}${full.slice(word(4))}` as Hex
      await expectRevert(chain.owner, transferAndCall(dirtyAddress), 'MalformedRequestData', [3n])
      const dirtySelector =
        `${full.slice(0, word(4))}${'11'.repeat(32)}${full.slice(word(5))}` as Hex
      await expectRevert(chain.owner, transferAndCall(dirtySelector), 'MalformedRequestData', [4n])
      const badOffset =
        `${full.slice(0, word(7))}${toHex(4096n, { size: 32 }).slice(2)}${full.slice(word(8))}` as Hex
      await expectRevert(chain.owner, transferAndCall(badOffset), 'MalformedRequestData', [7n])
      const badLength =
        `${full.slice(0, word(8))}${toHex(1000n, { size: 32 }).slice(2)}${full.slice(word(9))}` as Hex
      await expectRevert(chain.owner, transferAndCall(badLength), 'MalformedRequestData', [7n])
    })

    it('a callback to the LINK token, a data version over 255, a reused nonce', async () => {
      await expectRevert(
        chain.owner,
        transferAndCall(rawRequest({ callback: core.linkToken })),
        'CallbackIsLinkToken',
      )
      await expectRevert(
        chain.owner,
        transferAndCall(rawRequest({ dataVersion: 256n })),
        'UnsupportedDataVersion',
        [256n],
      )
      await send(chain.owner, transferAndCall(rawRequest({ nonce: 9n })))
      const id = keccak256(encodePacked(['address', 'uint256'], [chain.owner.account.address, 9n]))
      await expectRevert(
        chain.owner,
        transferAndCall(rawRequest({ nonce: 9n })),
        'DuplicateRequest',
        [id],
      )
      // Only the first request's payment reached the Operator.
      assert.equal(await linkBalance(chain, core.linkToken, core.operator), PAYMENT)
    })
  })

  describe('fulfilments that are refused', () => {
    it('by a key that is not authorized', async () => {
      const req = await requestPrice()
      await expectRevert(chain.outsider, fulfil1(req, 1n), 'UnauthorizedSender', [
        chain.outsider.account.address,
      ])
    })

    it('twice', async () => {
      const req = await requestPrice()
      await send(chain.node, fulfil1(req, 1n))
      await expectRevert(chain.node, fulfil1(req, 2n), 'UnknownRequest', [req.requestId])
      assert.equal(await read(consumer, PriceConsumerAbi, 'latestAnswer'), 1n)
      assert.equal(await read(core.operator, OperatorAbi, 'withdrawable'), PAYMENT)
    })

    it('with a wrong payment, callback address, selector or expiration', async () => {
      const req = await requestPrice()
      for (const wrong of [
        { payment: PAYMENT * 2n },
        { callbackAddr: chain.stranger.account.address },
        { callbackFunctionId: '0x12345678' as Hex },
        { cancelExpiration: req.cancelExpiration + 1n },
      ]) {
        await expectRevert(chain.node, fulfil1(req, 1n, wrong), 'RequestParamsMismatch', [
          req.requestId,
        ])
      }
    })

    it('v2 data whose first word is not the request id', async () => {
      const req = await requestPrice(true)
      const other = encodeAbiParameters([{ type: 'bytes32' }, { type: 'uint256' }], [SPEC_ID, 1n])
      await expectRevert(chain.node, fulfil2(req, other), 'ResponseIdMismatch', [
        req.requestId,
        SPEC_ID,
      ])
      await expectRevert(chain.node, fulfil2(req, '0x1234'), 'ResponseIdMismatch', [
        req.requestId,
        `0x${'00'.repeat(32)}`,
      ])
    })

    it('with too little gas left for the consumer', async () => {
      const req = await requestPrice()
      await expectRevert(
        chain.node,
        { ...fulfil1(req, 1n), gas: 350_000n },
        'InsufficientGasForCallback',
      )
    })

    it('an answer to the consumer from anyone but the Operator', async () => {
      const req = await requestPrice()
      await expectRevert(
        chain.stranger,
        {
          address: consumer,
          abi: PriceConsumerAbi,
          functionName: 'fulfill',
          args: [req.requestId, 5n],
        },
        'UnexpectedFulfiller',
        [req.requestId, core.operator, chain.stranger.account.address],
      )
    })
  })

  describe('hostile consumers', () => {
    let hostile: Address
    beforeEach(async () => {
      hostile = await deployContract(chain.owner, {
        name: 'HostileConsumer',
        abi: HostileConsumerAbi,
        bytecode: HostileConsumerBytecode,
        args: [core.linkToken, core.operator],
      })
      await fundLink(chain, core.linkToken, hostile, LINK)
    })
    async function hostileRequest(mode: number): Promise<OpenRequest> {
      await send(chain.owner, {
        address: hostile,
        abi: HostileConsumerAbi,
        functionName: 'setMode',
        args: [mode],
      })
      const receipt = await send(chain.owner, {
        address: hostile,
        abi: HostileConsumerAbi,
        functionName: 'request',
        args: [PAYMENT, false],
      })
      return oracleRequestFrom(receipt)
    }
    async function fulfilWithLimit(req: OpenRequest, gas: bigint) {
      const receipt = await sendRaw(chain.node, { ...fulfil1(req, 9n), gas })
      assert.equal(receipt.status, 'success')
      assert.ok(receipt.gasUsed <= gas)
      assert.equal(
        parseEventLogs({ abi: OperatorAbi, logs: receipt.logs, eventName: 'OracleResponse' })
          .length,
        1,
      )
      assert.equal(await read(hostile, HostileConsumerAbi, 'answers'), 0n)
      assert.equal(await read(core.operator, OperatorAbi, 'withdrawable'), PAYMENT)
      await expectRevert(chain.node, fulfil1(req, 9n), 'UnknownRequest', [req.requestId])
      return receipt
    }

    it('a reverting callback: the fulfilment stands, the operator is paid', async () => {
      const req = await hostileRequest(1)
      const sim = await chain.node.simulateContract({
        ...fulfil1(req, 9n),
        account: chain.node.account,
      })
      assert.equal(sim.result, false)
      await fulfilWithLimit(req, 600_000n)
    })

    it('a callback that burns all gas: the fulfiller pays only its own limit', async () => {
      const req = await hostileRequest(2)
      const receipt = await fulfilWithLimit(req, 1_000_000n)
      assert.ok(receipt.gasUsed > 900_000n, 'the callback did get the gas')
    })

    it('a return bomb copies nothing back', async () => {
      const req = await hostileRequest(3)
      const receipt = await sendRaw(chain.node, { ...fulfil1(req, 9n), gas: 2_000_000n })
      assert.equal(receipt.status, 'success')
      assert.equal(await read(hostile, HostileConsumerAbi, 'answers'), 0n)
    })

    it('a callback that re-enters fulfil cannot be paid twice', async () => {
      const req = await hostileRequest(4)
      await send(chain.owner, {
        address: hostile,
        abi: HostileConsumerAbi,
        functionName: 'setReplay',
        args: [req.payment, req.cancelExpiration],
      })
      await fulfilWithLimit(req, 1_000_000n)
    })
  })

  describe('cancellation', () => {
    const cancel = (req: OpenRequest) =>
      ({
        address: consumer,
        abi: PriceConsumerAbi,
        functionName: 'cancel',
        args: [req.requestId, req.payment, req.cancelExpiration],
      }) as const

    it('before expiry is refused; after expiry refunds the requester', async () => {
      const before = await linkBalance(chain, core.linkToken, consumer)
      const req = await requestPrice()
      await expectRevert(chain.owner, cancel(req), 'RequestNotExpired', [
        req.requestId,
        req.cancelExpiration,
      ])
      await increaseTime(chain, 301)
      const receipt = await send(chain.owner, cancel(req))
      const cancelled = parseEventLogs({
        abi: OperatorAbi,
        logs: receipt.logs,
        eventName: 'CancelOracleRequest',
      })
      assert.equal(cancelled[0]?.args.requestId, req.requestId)
      assert.equal(await linkBalance(chain, core.linkToken, consumer), before)
      assert.equal(await linkBalance(chain, core.linkToken, core.operator), 0n)
      await expectRevert(chain.node, fulfil1(req, 1n), 'UnknownRequest', [req.requestId])
    })

    it('by anyone but the requester is refused', async () => {
      const req = await requestPrice()
      await increaseTime(chain, 301)
      await expectRevert(
        chain.stranger,
        {
          address: core.operator,
          abi: OperatorAbi,
          functionName: 'cancelOracleRequest',
          args: [req.requestId, req.payment, req.callbackFunctionId, req.cancelExpiration],
        },
        'RequestParamsMismatch',
        [req.requestId],
      )
      await expectRevert(chain.stranger, { ...cancel(req) }, 'NotOwner', [
        chain.stranger.account.address,
      ])
    })
  })

  describe('administration', () => {
    it('withdraw never reaches LINK committed to open requests', async () => {
      await requestPrice()
      const second = await requestPrice()
      await send(chain.node, fulfil1(second, 1n))
      assert.equal(await linkBalance(chain, core.linkToken, core.operator), 2n * PAYMENT)
      const withdraw = (amount: bigint) =>
        ({
          address: core.operator,
          abi: OperatorAbi,
          functionName: 'withdraw',
          args: [chain.owner.account.address, amount],
        }) as const
      await expectRevert(chain.owner, withdraw(PAYMENT + 1n), 'InsufficientWithdrawable', [
        PAYMENT + 1n,
        PAYMENT,
      ])
      await expectRevert(chain.stranger, withdraw(1n), 'NotOwner', [chain.stranger.account.address])
      await send(chain.owner, withdraw(PAYMENT))
      assert.equal(await linkBalance(chain, core.linkToken, core.operator), PAYMENT)
    })

    it('authorized senders are owner-managed and replaced as a set', async () => {
      const set = (senders: Address[]) =>
        ({
          address: core.operator,
          abi: OperatorAbi,
          functionName: 'setAuthorizedSenders',
          args: [senders],
        }) as const
      await expectRevert(chain.stranger, set([chain.stranger.account.address]), 'NotOwner')
      await expectRevert(
        chain.owner,
        set(['0x0000000000000000000000000000000000000000']),
        'InvalidAuthorizedSender',
      )
      const receipt = await send(chain.owner, set([chain.outsider.account.address]))
      const changed = parseEventLogs({
        abi: OperatorAbi,
        logs: receipt.logs,
        eventName: 'AuthorizedSendersChanged',
      })
      assert.deepEqual(changed[0]?.args, {
        senders: [chain.outsider.account.address],
        changedBy: chain.owner.account.address,
      })
      assert.deepEqual(await read(core.operator, OperatorAbi, 'getAuthorizedSenders'), [
        chain.outsider.account.address,
      ])
      assert.equal(
        await read(core.operator, OperatorAbi, 'isAuthorizedSender', [chain.node.account.address]),
        false,
      )
      const req = await requestPrice()
      await expectRevert(chain.node, fulfil1(req, 1n), 'UnauthorizedSender')
      await send(chain.outsider, fulfil1(req, 3n))
      await send(chain.owner, set([]))
      assert.deepEqual(await read(core.operator, OperatorAbi, 'getAuthorizedSenders'), [])
    })

    it('ownership moves in two steps', async () => {
      const owned = { address: core.operator, abi: OperatorAbi } as const
      await expectRevert(
        chain.stranger,
        { ...owned, functionName: 'transferOwnership', args: [chain.stranger.account.address] },
        'NotOwner',
      )
      await send(chain.owner, {
        ...owned,
        functionName: 'transferOwnership',
        args: [chain.stranger.account.address],
      })
      await expectRevert(
        chain.outsider,
        { ...owned, functionName: 'acceptOwnership' },
        'NotPendingOwner',
      )
      assert.equal(await read(core.operator, OperatorAbi, 'owner'), chain.owner.account.address)
      await send(chain.stranger, { ...owned, functionName: 'acceptOwnership' })
      assert.equal(await read(core.operator, OperatorAbi, 'owner'), chain.stranger.account.address)
    })

    it('reports its token and type', async () => {
      assert.equal(await read(core.operator, OperatorAbi, 'getChainlinkToken'), core.linkToken)
      assert.equal(await read(core.operator, OperatorAbi, 'typeAndVersion'), 'Operator 1.0.0')
    })
  })
})
