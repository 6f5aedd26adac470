/**
 * Gas of the request/fulfil path, ours against Chainlink's Operator 1.0.0 measured in the same
 * run on the same anvil, with the same LINK token, the same request parameters and the same
 * consumer callback (GasSink). Prints one JSON line.
 *
 *   npm run bench:gas               measure, print, and fail if a figure of ours grew > 2 %
 *                                   over bench/gas-snapshot.json
 *   npm run bench:gas -- --update   also rewrite the snapshot
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  type Abi,
  type Address,
  encodeAbiParameters,
  encodeFunctionData,
  type Hex,
  parseEventLogs,
  toFunctionSelector,
  toHex,
} from 'viem'
import {
  CBORHarnessAbi,
  CBORHarnessBytecode,
  GasSinkAbi,
  GasSinkBytecode,
  LinkTokenAbi,
  LinkTokenBytecode,
  OperatorAbi,
  OperatorBytecode,
} from '../artifacts/abis.ts'
import {
  allErrorsAbi,
  deployContract,
  increaseTime,
  send,
  sendRaw,
  startTestChain,
  type TestChain,
} from '../src/chain/testing.ts'
import { measureCommitReveal } from './commit-reveal-gas.ts'
import { measureMarket } from './market-gas.ts'
import { compileChainlinkOperator } from './reference.ts'
import { regressions } from './snapshot.ts'

const SNAPSHOT = join(import.meta.dirname, 'gas-snapshot.json')
const TOLERANCE = 0.02
const KEYS = [
  'request_gas',
  'fulfill1_gas',
  'fulfill2_32_gas',
  'fulfill2_256_gas',
  'cancel_gas',
] as const
type Figures = Record<(typeof KEYS)[number], number>
/** Committee sizes of the commit–reveal figures (issue 6). */
const COMMITTEE_SIZES = [4, 7, 16, 31]
/** Commit–reveal figures kept in the snapshot, per committee size. */
const CR_KEYS = ['commit_gas', 'reveal_gas', 'final_reveal_gas', 'round_total_gas'] as const

const PAYMENT = 10n ** 17n
const SPEC_ID = toHex('bench', { size: 32 })
const FULFIL_GAS_LIMIT = 1_000_000n

async function measure(
  chain: TestChain,
  link: Address,
  operator: Address,
  operatorAbi: Abi,
  sink: Address,
  params: Hex,
): Promise<Figures> {
  let nonce = 1n
  const request = async (callback: Address, selector: Hex) => {
    const payload = encodeFunctionData({
      abi: OperatorAbi,
      functionName: 'oracleRequest',
      args: [
        '0x0000000000000000000000000000000000000000',
        0n,
        SPEC_ID,
        callback,
        selector,
        nonce++,
        1n,
        params,
      ],
    })
    const receipt = await send(chain.owner, {
      address: link,
      abi: LinkTokenAbi,
      functionName: 'transferAndCall',
      args: [operator, PAYMENT, payload],
    })
    const [log] = parseEventLogs({
      abi: OperatorAbi,
      logs: receipt.logs,
      eventName: 'OracleRequest',
    })
    if (!log) throw new Error('no OracleRequest event')
    // Use the callback we asked for: Chainlink's Operator logs the requester in callbackAddr.
    return { gas: receipt.gasUsed, ...log.args, callbackAddr: callback }
  }
  type Req = Awaited<ReturnType<typeof request>>
  const fulfil = async (
    req: Req,
    functionName: 'fulfillOracleRequest' | 'fulfillOracleRequest2',
    data: Hex,
  ) => {
    const receipt = await sendRaw(chain.node, {
      address: operator,
      abi: operatorAbi,
      functionName,
      args: [
        req.requestId,
        req.payment,
        req.callbackAddr,
        req.callbackFunctionId,
        req.cancelExpiration,
        data,
      ],
      gas: FULFIL_GAS_LIMIT,
    })
    if (receipt.status !== 'success') {
      await chain.node.simulateContract({
        address: operator,
        abi: [...operatorAbi, ...allErrorsAbi],
        functionName,
        args: [
          req.requestId,
          req.payment,
          req.callbackAddr,
          req.callbackFunctionId,
          req.cancelExpiration,
          data,
        ],
        account: chain.node.account,
      } as never)
      throw new Error(`${functionName} reverted`)
    }
    return receipt.gasUsed
  }
  const fulfillSel = toFunctionSelector('fulfill(bytes32,uint256)')
  const bytesSel = toFunctionSelector('fulfillBytes(bytes32,bytes)')
  const answer = (req: Req, size: number) =>
    encodeAbiParameters(
      [{ type: 'bytes32' }, { type: 'bytes' }],
      [req.requestId, toHex(new Uint8Array(size).fill(0xab))],
    )

  // Warm up: every shared slot (balances, totals, the sink) holds a non-zero value, as in steady use.
  await fulfil(await request(sink, fulfillSel), 'fulfillOracleRequest', toHex(1n, { size: 32 }))

  const r1 = await request(sink, fulfillSel)
  const fulfill1 = await fulfil(r1, 'fulfillOracleRequest', toHex(301234n, { size: 32 }))
  const r2 = await request(sink, bytesSel)
  const f2_32 = await fulfil(r2, 'fulfillOracleRequest2', answer(r2, 32))
  const r3 = await request(sink, bytesSel)
  const f2_256 = await fulfil(r3, 'fulfillOracleRequest2', answer(r3, 256))
  const r4 = await request(chain.owner.account.address, '0x12345678')
  await increaseTime(chain, 301)
  const cancel = await send(chain.owner, {
    address: operator,
    abi: operatorAbi,
    functionName: 'cancelOracleRequest',
    args: [r4.requestId, r4.payment, r4.callbackFunctionId, r4.cancelExpiration],
  })
  return {
    request_gas: Number(r1.gas),
    fulfill1_gas: Number(fulfill1),
    fulfill2_32_gas: Number(f2_32),
    fulfill2_256_gas: Number(f2_256),
    cancel_gas: Number(cancel.gasUsed),
  }
}

async function main() {
  const update = process.argv.includes('--update')
  const reference = compileChainlinkOperator()
  const chain = await startTestChain()
  try {
    const deploy = (name: string, abi: Abi, bytecode: Hex, args: unknown[]) =>
      deployContract(chain.owner, { name, abi, bytecode, args } as never)
    const link = await deploy('LinkToken', LinkTokenAbi, LinkTokenBytecode, [])
    const sink = await deploy('GasSink', GasSinkAbi, GasSinkBytecode, [])
    const harness = await deploy('CBORHarness', CBORHarnessAbi, CBORHarnessBytecode, [])
    const ours = await deploy('Operator', OperatorAbi, OperatorBytecode, [
      link,
      chain.owner.account.address,
    ])
    const theirs = await deploy('Chainlink Operator', reference.abi as Abi, reference.bytecode, [
      link,
      chain.owner.account.address,
    ])
    for (const [operator, abi] of [
      [ours, OperatorAbi],
      [theirs, reference.abi as Abi],
    ] as const) {
      await send(chain.owner, {
        address: operator,
        abi,
        functionName: 'setAuthorizedSenders',
        args: [[chain.node.account.address]],
      })
    }
    // The parameters of a typical price job, encoded by our Requests library.
    const params = await chain.owner.readContract({
      address: harness,
      abi: CBORHarnessAbi,
      functionName: 'encode',
      args: [
        [
          ['get', 'https://api.example.com/v1/price?pair=ETH-USD'],
          ['path', 'data,price'],
        ]
          .map(([key, text]) => ({
            kind: 0,
            key: key!,
            text: text!,
            data: '0x' as Hex,
            signedValue: 0n,
            unsignedValue: 0n,
            texts: [],
          }))
          .concat([
            {
              kind: 2,
              key: 'times',
              text: '',
              data: '0x',
              signedValue: 100n,
              unsignedValue: 0n,
              texts: [],
            },
          ]),
      ],
    })
    const our = await measure(chain, link, ours, OperatorAbi, sink, params)
    const cl = await measure(chain, link, theirs, reference.abi as Abi, sink, params)
    const line: Record<string, string | number> = { bench: 'gas' }
    for (const k of KEYS) line[k] = our[k]
    for (const k of KEYS) line[`chainlink_${k}`] = cl[k]
    for (const k of KEYS)
      line[`${k.replace(/_gas$/, '')}_ratio`] = Number((our[k] / cl[k]).toFixed(4))
    console.log(JSON.stringify(line))

    const snapshotFigures: Record<string, number> = { ...our }
    for (const n of COMMITTEE_SIZES) {
      const cr = await measureCommitReveal(chain, n, params)
      console.log(
        JSON.stringify({
          bench: 'gas',
          case: 'commit_reveal',
          ...cr,
          round_vs_plain_median_ratio: Number(
            (cr.round_total_gas / cr.plain_median_round_gas).toFixed(3),
          ),
        }),
      )
      for (const k of CR_KEYS) snapshotFigures[`commit_reveal_n${n}_${k}`] = cr[k]
    }

    // The order-matching market (issue 8): a committee of 4 chosen among 4, 7 and 16 bidders.
    const market = await measureMarket(chain)
    const [base] = market.cases
    for (const c of market.cases) {
      const extra =
        base && c.n > base.n
          ? {
              finalize_per_extra_bid_gas: Math.round(
                (c.finalize_gas - base.finalize_gas) / (c.n - base.n),
              ),
            }
          : { first_bid_gas: market.first_bid_gas }
      console.log(JSON.stringify({ bench: 'gas', case: 'market', ...c, ...extra }))
      snapshotFigures[`market_n${c.n}_finalize_gas`] = c.finalize_gas
    }
    console.log(JSON.stringify({ bench: 'gas', case: 'market_oca', n: 4, ...market.oca }))
    for (const [k, v] of Object.entries(market.oca)) snapshotFigures[`market_oca_${k}`] = v
    if (base) {
      snapshotFigures.market_propose_gas = base.propose_gas
      snapshotFigures.market_bid_gas = Math.max(...market.cases.map((c) => c.bid_gas))
      snapshotFigures.market_settle_gas = Math.max(...market.cases.map((c) => c.settle_gas))
    }

    if (update) {
      writeFileSync(SNAPSHOT, `${JSON.stringify(snapshotFigures, null, 2)}\n`)
      console.error(`gas snapshot written to ${SNAPSHOT}`)
      return
    }
    const snapshot = JSON.parse(readFileSync(SNAPSHOT, 'utf8')) as Record<string, number>
    const grown = regressions(snapshot, snapshotFigures, TOLERANCE)
    if (grown.length > 0) {
      for (const g of grown)
        console.error(`gas regression: ${g.key} ${g.before} -> ${g.after} (> ${TOLERANCE * 100} %)`)
      console.error(
        'if the increase is intended, run `npm run bench:gas -- --update` and commit the snapshot',
      )
      process.exitCode = 1
    }
  } finally {
    await chain.stop()
  }
}

await main()
