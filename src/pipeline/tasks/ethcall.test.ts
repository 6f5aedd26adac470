import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  type Address,
  createPublicClient,
  encodeAbiParameters,
  encodeErrorResult,
  encodeFunctionData,
  type Hex,
  http,
  numberToHex,
  parseAbi,
  size,
  toFunctionSelector,
} from 'viem'
import { LinkTokenAbi } from '../../../artifacts/abis.ts'
import type { CoreDeployment } from '../../chain/deploy.ts'
import {
  deployTestCore,
  fundLink,
  LINK,
  startTestChain,
  type TestChain,
} from '../../chain/testing.ts'
import { type TaskDeps, TaskError } from '../task.ts'
import { testContext } from '../testing.ts'
import {
  ChainCallRevertedError,
  type ChainReader,
  EthCallRevertedError,
  ethcallTask,
  revertData,
  revertReason,
  viemChainReader,
} from './ethcall.ts'

/** Runtime code that always reverts with `payload` (CODECOPY it to memory, then REVERT). */
function revertingCode(payload: Hex): Hex {
  const len = numberToHex(size(payload), { size: 2 }).slice(2)
  return `0x61${len}600e60003961${len}6000fd${payload.slice(2)}`
}

const balanceOf = (who: Address) =>
  encodeFunctionData({ abi: LinkTokenAbi, functionName: 'balanceOf', args: [who] })
const uint = (n: bigint) => encodeAbiParameters([{ type: 'uint256' }], [n])

describe('ethcall against anvil', () => {
  let chain: TestChain
  let core: CoreDeployment
  let reader: ChainReader
  let supply: bigint
  let blockBeforeFunding: bigint
  const errorString = '0x00000000000000000000000000000000000e4401' as Address
  const panic = '0x00000000000000000000000000000000000e4402' as Address
  const emptyRevert = '0x00000000000000000000000000000000000e4403' as Address

  before(async () => {
    chain = await startTestChain()
    core = await deployTestCore(chain)
    const client = createPublicClient({ transport: http(chain.anvil.rpcUrl, { retryCount: 0 }) })
    reader = viemChainReader(client)
    supply = await client.readContract({
      address: core.linkToken,
      abi: LinkTokenAbi,
      functionName: 'balanceOf',
      args: [chain.owner.account.address],
    })
    blockBeforeFunding = await client.getBlockNumber()
    await fundLink(chain, core.linkToken, chain.stranger.account.address, 5n * LINK)
    const setCode = (address: Address, code: Hex) =>
      chain.owner.request({ method: 'anvil_setCode', params: [address, code] } as never)
    await setCode(
      errorString,
      revertingCode(encodeErrorResult({ abi: parseAbi(['error Error(string)']), args: ['boom'] })),
    )
    await setCode(
      panic,
      revertingCode(encodeErrorResult({ abi: parseAbi(['error Panic(uint256)']), args: [0x11n] })),
    )
    await setCode(emptyRevert, '0x60006000fd')
  })
  after(() => chain?.stop())

  const run = (params: Record<string, string>, deps?: TaskDeps, signal?: AbortSignal) =>
    ethcallTask.run(
      testContext({
        type: 'ethcall',
        params,
        deps: deps ?? { chain: reader, evmChainID: 31337n },
        vars: { link: core.linkToken, owner: chain.owner.account.address },
        ...(signal ? { signal } : {}),
      }),
    )

  it('calls balanceOf on the deployed LinkToken (happy cases)', async () => {
    const stranger = chain.stranger.account.address
    const cases: Array<[string, Record<string, string>, Hex]> = [
      [
        'owner balance, contract from a variable',
        { contract: '$(link)', data: balanceOf(chain.owner.account.address) },
        uint(supply - 5n * LINK),
      ],
      [
        'stranger balance at latest',
        { contract: core.linkToken, data: balanceOf(stranger), block: 'latest' },
        uint(5n * LINK),
      ],
      [
        'stranger balance before funding (block number)',
        { contract: core.linkToken, data: balanceOf(stranger), block: String(blockBeforeFunding) },
        uint(0n),
      ],
      [
        'stranger balance before funding (hex block)',
        {
          contract: core.linkToken,
          data: balanceOf(stranger),
          block: numberToHex(blockBeforeFunding),
        },
        uint(0n),
      ],
      [
        'a lowercase address, gas, gasPrice, chain id',
        {
          contract: core.linkToken.toLowerCase(),
          data: balanceOf(stranger),
          gas: '100000',
          gasPrice: '0',
          evmChainID: '31337',
        },
        uint(5n * LINK),
      ],
      [
        'transfer simulated from the owner (from)',
        {
          contract: core.linkToken,
          data: encodeFunctionData({
            abi: LinkTokenAbi,
            functionName: 'transfer',
            args: [stranger, 1n],
          }),
          from: '$(owner)',
        },
        uint(1n),
      ],
      [
        'a contract that does not exist yet at block 0',
        { contract: core.linkToken, data: balanceOf(stranger), block: '0' },
        '0x',
      ],
    ]
    for (const [label, params, expected] of cases) {
      const result = await run(params)
      assert.equal(result.error, undefined, `${label}: ${result.error?.message}`)
      assert.equal(result.value, expected, label)
    }
  })

  it('turns reverts into EthCallRevertedError, with the reason when extractRevertReason="true"', async () => {
    const transferTooMuch = encodeFunctionData({
      abi: LinkTokenAbi,
      functionName: 'transfer',
      args: [chain.owner.account.address, 6n * LINK],
    })
    const insufficient = toFunctionSelector('InsufficientBalance(address,uint256,uint256)')
    const cases: Array<
      [string, Record<string, string>, string, string | undefined, (data: Hex) => boolean]
    > = [
      [
        'a custom error',
        {
          contract: core.linkToken,
          data: transferTooMuch,
          from: chain.stranger.account.address,
          extractRevertReason: 'true',
        },
        `eth_call to ${core.linkToken} reverted: custom error ${insufficient}`,
        `custom error ${insufficient}`,
        (d) => d.startsWith(insufficient) && size(d) === 4 + 96,
      ],
      [
        'a custom error, reason not extracted',
        { contract: core.linkToken, data: transferTooMuch, from: chain.stranger.account.address },
        `eth_call to ${core.linkToken} reverted`,
        undefined,
        (d) => d.startsWith(insufficient),
      ],
      [
        'Error(string)',
        { contract: errorString, data: '0x', extractRevertReason: 'true' },
        `eth_call to ${errorString} reverted: boom`,
        'boom',
        (d) => d.startsWith('0x08c379a0'),
      ],
      [
        'Panic(0x11)',
        { contract: panic, data: '0x12345678', extractRevertReason: 'true' },
        `eth_call to ${panic} reverted: panic 0x11 (arithmetic underflow or overflow)`,
        'panic 0x11 (arithmetic underflow or overflow)',
        (d) => d.startsWith('0x4e487b71'),
      ],
      [
        'an empty revert',
        { contract: emptyRevert, data: '0x', extractRevertReason: 'true' },
        `eth_call to ${emptyRevert} reverted: no reason given`,
        'no reason given',
        (d) => d === '0x',
      ],
    ]
    for (const [label, params, message, reason, checkData] of cases) {
      const result = await run(params)
      assert.ok(
        result.error instanceof EthCallRevertedError,
        `${label}: got ${result.error?.message ?? String(result.value)}`,
      )
      assert.equal(result.error.shortMessage, message, label)
      assert.equal(result.error.reason, reason, label)
      assert.equal(result.error.retryable, false, label)
      assert.ok(checkData(result.error.data), `${label}: data ${result.error.data}`)
    }
  })

  it('fails on bad parameters, a missing reader, a wrong chain, a dead RPC, and an abort', async () => {
    const data = balanceOf(chain.owner.account.address)
    const deadReader = viemChainReader(
      createPublicClient({ transport: http('http://127.0.0.1:1', { retryCount: 0 }) }),
    )
    const aborted = new AbortController()
    aborted.abort()
    const cases: Array<
      [string, Record<string, string>, TaskDeps | undefined, RegExp, boolean, AbortSignal?]
    > = [
      [
        'no chain reader',
        { contract: core.linkToken, data },
        {},
        /^no chain reader is configured for ethcall$/,
        false,
      ],
      [
        'a short contract address',
        { contract: '0x1234', data },
        undefined,
        /^parameter "contract": expected a 20-byte hex address, got the string "0x1234"$/,
        false,
      ],
      ['missing contract', { data }, undefined, /^parameter "contract": is required$/, false],
      [
        'malformed data',
        { contract: core.linkToken, data: '0x70a0823' },
        undefined,
        /^parameter "data": expected 0x-prefixed hex bytes/,
        false,
      ],
      [
        'missing data',
        { contract: core.linkToken },
        undefined,
        /^parameter "data": is required$/,
        false,
      ],
      [
        'a bad block',
        { contract: core.linkToken, data, block: 'yesterday' },
        undefined,
        /^parameter "block": expected "latest", "pending"/,
        false,
      ],
      [
        'a bad from',
        { contract: core.linkToken, data, from: 'me' },
        undefined,
        /^parameter "from": expected a 20-byte hex address/,
        false,
      ],
      [
        'zero gas',
        { contract: core.linkToken, data, gas: '0' },
        undefined,
        /^parameter "gas": 0 is out of range/,
        false,
      ],
      [
        'bad extractRevertReason',
        { contract: core.linkToken, data, extractRevertReason: 'maybe' },
        undefined,
        /^parameter "extractRevertReason": expected true or false/,
        false,
      ],
      [
        'a chain id the RPC does not serve',
        { contract: core.linkToken, data, evmChainID: '1' },
        undefined,
        /^eth_call to 0x\w+ failed$/,
        false,
      ],
      [
        'a dead RPC (retryable)',
        { contract: core.linkToken, data },
        { chain: deadReader },
        /^eth_call to 0x\w+ failed$/,
        true,
      ],
      [
        'an aborted run',
        { contract: core.linkToken, data },
        undefined,
        /^the call was aborted$/,
        true,
        aborted.signal,
      ],
    ]
    for (const [label, params, deps, pattern, retryable, signal] of cases) {
      const result = await run(params, deps, signal)
      assert.ok(
        result.error instanceof TaskError,
        `${label}: expected an error, got ${String(result.value)}`,
      )
      assert.ok(!(result.error instanceof EthCallRevertedError), `${label}: not a revert`)
      assert.match(result.error.shortMessage, pattern, label)
      assert.equal(result.error.retryable, retryable, label)
    }
    const wrongChain = await run({ contract: core.linkToken, data, evmChainID: '1' })
    assert.match(wrongChain.error?.details ?? '', /serves chain 31337, not chain 1/)
  })

  it('stops waiting when the run is aborted mid-call; rejects a malformed reply', async () => {
    const controller = new AbortController()
    const hanging: ChainReader = { call: () => new Promise<Hex>(() => {}) }
    const params = { contract: core.linkToken, data: '0x' }
    setTimeout(() => controller.abort(), 10)
    const result = await run(params, { chain: hanging }, controller.signal)
    assert.equal(result.error?.shortMessage, 'the call was aborted')
    const malformed: ChainReader = { call: async () => 'nope' as Hex }
    const bad = await run(params, { chain: malformed })
    assert.match(bad.error?.shortMessage ?? '', /returned a malformed result/)
    const seen: unknown[] = []
    const recording: ChainReader = {
      call: async (req) => {
        seen.push(req)
        return '0xABCD'
      },
    }
    const ok = await run(
      { ...params, block: 'finalized', from: chain.owner.account.address.toLowerCase() },
      { chain: recording, evmChainID: 5n },
    )
    assert.equal(ok.value, '0xabcd')
    assert.equal(seen.length, 1)
    const { signal, ...req } = seen[0] as { signal: AbortSignal }
    assert.ok(signal instanceof AbortSignal)
    assert.deepEqual(req, {
      to: core.linkToken,
      data: '0x',
      from: chain.owner.account.address,
      blockTag: 'finalized',
      chainId: 5n,
    })
  })

  it('revertData / revertReason work for non-viem readers too', () => {
    assert.equal(revertData(new ChainCallRevertedError('0xABCD')), '0xabcd')
    assert.equal(revertData(new Error('outer', { cause: { data: { data: '0x01' } } })), '0x01')
    assert.equal(revertData(new Error('execution reverted')), '0x')
    assert.equal(revertData(new Error('connection refused')), undefined)
    assert.equal(revertReason('0x1234'), 'malformed revert data 0x1234')
  })
})
