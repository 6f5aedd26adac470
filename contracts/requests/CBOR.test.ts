import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { type Address, bytesToHex, type Hex, maxInt256, maxUint256, minInt256, toHex } from 'viem'
import { CBORHarnessAbi, CBORHarnessBytecode } from '../../artifacts/abis.ts'
import { deployContract, startTestChain, type TestChain } from '../../src/chain/testing.ts'
import { type CborValue, decodeDietCbor, hexToBytes } from '../../src/pipeline/cbor.ts'
import { encodeDietCbor } from '../../src/pipeline/cbor-encode.ts'

/**
 * Round trips between the Solidity encoder (Requests/CBOR libraries, run on anvil through
 * CBORHarness) and the TypeScript decoder the node uses.
 */
type Param =
  | { kind: 0; key: string; value: string }
  | { kind: 1; key: string; value: Hex }
  | { kind: 2; key: string; value: bigint }
  | { kind: 3; key: string; value: bigint }
  | { kind: 4; key: string; value: string[] }

function toStruct(p: Param) {
  return {
    kind: p.kind,
    key: p.key,
    text: p.kind === 0 ? p.value : '',
    data: p.kind === 1 ? p.value : ('0x' as Hex),
    signedValue: p.kind === 2 ? p.value : 0n,
    unsignedValue: p.kind === 3 ? p.value : 0n,
    texts: p.kind === 4 ? p.value : [],
  }
}

function normalise(v: CborValue): unknown {
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v)
  if (v instanceof Uint8Array) return bytesToHex(v)
  return v
}

describe('CBOR request parameters: Solidity encoder -> TypeScript decoder', () => {
  let chain: TestChain
  let harness: Address
  before(async () => {
    chain = await startTestChain()
    harness = await deployContract(chain.owner, {
      name: 'CBORHarness',
      abi: CBORHarnessAbi,
      bytecode: CBORHarnessBytecode,
      args: [],
    })
  })
  after(async () => {
    await chain?.stop()
  })

  const encode = async (params: Param[]): Promise<Hex> =>
    chain.owner.readContract({
      address: harness,
      abi: CBORHarnessAbi,
      functionName: 'encode',
      args: [params.map(toStruct)],
    })

  const roundTrip = async (params: Param[]) => {
    const encoded = await encode(params)
    const decoded = decodeDietCbor(hexToBytes(encoded))
    // Compared as sets: JavaScript orders integer-like keys first in any object.
    assert.deepEqual(Object.keys(decoded).sort(), params.map((p) => p.key).sort())
    for (const p of params) {
      assert.deepEqual(normalise(decoded[p.key] as CborValue), p.value, `parameter ${p.key}`)
    }
    return encoded
  }

  it('writes the exact bytes of the shortest heads and of bignums', async () => {
    const cases: [Param, string][] = [
      [{ kind: 3, key: 'a', value: 0n }, '616100'],
      [{ kind: 3, key: 'a', value: 23n }, '616117'],
      [{ kind: 3, key: 'a', value: 24n }, '61611818'],
      [{ kind: 3, key: 'a', value: 256n }, '6161190100'],
      [{ kind: 3, key: 'a', value: 2n ** 32n }, '61611b0000000100000000'],
      [
        { kind: 3, key: 'a', value: 2n ** 64n },
        `6161c25820${toHex(2n ** 64n, { size: 32 }).slice(2)}`,
      ],
      [{ kind: 2, key: 'a', value: -1n }, '616120'],
      [{ kind: 2, key: 'a', value: -25n }, '61613818'],
      [{ kind: 2, key: 'a', value: -(2n ** 64n) }, '61613bffffffffffffffff'],
      [
        { kind: 2, key: 'a', value: -(2n ** 64n) - 1n },
        `6161c35820${toHex(2n ** 64n, { size: 32 }).slice(2)}`,
      ],
      [{ kind: 0, key: 'a', value: 'IETF' }, '61616449455446'],
      [{ kind: 1, key: 'a', value: '0x01020304' }, '61614401020304'],
      [{ kind: 4, key: 'a', value: ['x', 'y'] }, '61619f61786179ff'],
    ]
    for (const [param, hex] of cases) {
      assert.equal(await encode([param]), `0x${hex}`, `${param.kind}:${String(param.value)}`)
    }
  })

  it('round-trips every type at its edges', async () => {
    await roundTrip([
      { kind: 3, key: 'u0', value: 0n },
      { kind: 3, key: 'u64max', value: 2n ** 64n - 1n },
      { kind: 3, key: 'u64', value: 2n ** 64n },
      { kind: 3, key: 'u256max', value: maxUint256 },
      { kind: 2, key: 'i256max', value: maxInt256 },
      { kind: 2, key: 'i256min', value: minInt256 },
      { kind: 2, key: 'minus1', value: -1n },
      { kind: 2, key: 'i64min', value: -(2n ** 64n) },
      { kind: 2, key: 'belowI64', value: -(2n ** 64n) - 1n },
      { kind: 0, key: 'empty', value: '' },
      { kind: 0, key: 'unicode', value: 'Grüße, 世界 🌍' },
      { kind: 1, key: 'nobytes', value: '0x' },
      { kind: 1, key: 'long', value: toHex(new Uint8Array(1000).fill(7)) },
      { kind: 4, key: 'noStrings', value: [] },
      { kind: 4, key: 'path', value: ['data', 'prices', '0', 'usd'] },
    ])
  })

  it('round-trips random parameter lists (fast-check)', async () => {
    const key = fc.string({ minLength: 1, maxLength: 12 })
    const value = fc.oneof(
      fc.record({
        kind: fc.constant(0 as const),
        value: fc.string({ unit: 'grapheme', maxLength: 40 }),
      }),
      fc.record({
        kind: fc.constant(1 as const),
        value: fc.uint8Array({ maxLength: 80 }).map((b) => toHex(b)),
      }),
      fc.record({
        kind: fc.constant(2 as const),
        value: fc.bigInt({ min: minInt256, max: maxInt256 }),
      }),
      fc.record({
        kind: fc.constant(2 as const),
        value: fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
      }),
      fc.record({ kind: fc.constant(3 as const), value: fc.bigInt({ min: 0n, max: maxUint256 }) }),
      fc.record({ kind: fc.constant(3 as const), value: fc.bigInt({ min: 0n, max: 2n ** 66n }) }),
      fc.record({
        kind: fc.constant(4 as const),
        value: fc.array(fc.string({ maxLength: 10 }), { maxLength: 6 }),
      }),
    )
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(key, value), { maxLength: 8, selector: ([k]) => k }),
        async (entries) => {
          await roundTrip(entries.map(([k, v]) => ({ ...v, key: k }) as Param))
        },
      ),
      { numRuns: 150 },
    )
  })
})

describe('the TypeScript CBOR writer matches the Solidity one', () => {
  let chain: TestChain
  let harness: Address
  before(async () => {
    chain = await startTestChain()
    harness = await deployContract(chain.owner, {
      name: 'CBORHarness',
      abi: CBORHarnessAbi,
      bytecode: CBORHarnessBytecode,
      args: [],
    })
  })
  after(async () => {
    await chain?.stop()
  })

  it('byte for byte, for random parameters (fast-check)', async () => {
    const value = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.bigInt({ min: minInt256, max: maxInt256 }),
      fc.bigInt({ min: -(2n ** 66n), max: 2n ** 66n }),
      fc.uint8Array({ maxLength: 40 }),
      fc.array(fc.string({ maxLength: 8 }), { maxLength: 4 }),
    )
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), value), {
          maxLength: 6,
          selector: ([k]) => k,
        }),
        async (entries) => {
          const params = entries.map(([key, v]) => {
            const base = {
              key,
              text: '',
              data: '0x' as Hex,
              signedValue: 0n,
              unsignedValue: 0n,
              texts: [] as string[],
            }
            if (typeof v === 'string') return { ...base, kind: 0, text: v }
            if (typeof v === 'bigint') return { ...base, kind: 2, signedValue: v }
            if (v instanceof Uint8Array) return { ...base, kind: 1, data: toHex(v) }
            return { ...base, kind: 4, texts: v }
          })
          const solidity = await chain.owner.readContract({
            address: harness,
            abi: CBORHarnessAbi,
            functionName: 'encode',
            args: [params],
          })
          const typescript = toHex(encodeDietCbor(Object.fromEntries(entries)))
          // Object.fromEntries reorders integer-like keys; compare only when the order is kept.
          if (
            Object.keys(Object.fromEntries(entries)).join('\u0000') ===
            entries.map(([k]) => k).join('\u0000')
          ) {
            assert.equal(typescript, solidity)
          }
        },
      ),
      { numRuns: 100 },
    )
  })
})
