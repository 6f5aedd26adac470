import { mod } from '@noble/curves/abstract/modular'
import { secp256k1 } from '@noble/curves/secp256k1'
import { type Hex, hexToBigInt, keccak256, toHex } from 'viem'
import { type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts'
import { pointHex } from '../crypto/dkg.ts'
import { Q } from '../crypto/schnorr.ts'
import type { NonceStore, RoundNonce } from './node.ts'

/**
 * Test and benchmark helpers for the OCA protocol: a nonce dealer (Shamir shares of a fresh
 * nonce per round and view, with the public points — the protocol logic does not depend on how
 * the committee made them; the nonce DKG itself is tested in src/crypto/dkg.test.ts), nonce
 * stores that refuse reuse, and deterministic member keys.
 */

const G = secp256k1.ProjectivePoint.BASE

export function createNonceDealer(n: number, t: number, seed: string) {
  const dealt = new Map<
    string,
    { shares: bigint[]; point: ReturnType<typeof G.multiply>; sharePoints: Hex[] }
  >()
  return (round: number, view: number) => {
    const key = `${round}/${view}`
    let d = dealt.get(key)
    if (!d) {
      const coefficients = Array.from(
        { length: t },
        (_, k) => mod(hexToBigInt(keccak256(toHex(`${seed}/${key}/${k}`))), Q) || 1n,
      )
      const shares = Array.from({ length: n }, (_, j) => {
        let acc = 0n
        for (let k = t - 1; k >= 0; k--)
          acc = mod(acc * BigInt(j + 1) + (coefficients[k] as bigint), Q)
        return acc
      })
      d = {
        shares,
        point: G.multiply(coefficients[0] as bigint),
        sharePoints: shares.map((s) => pointHex(G.multiply(s))),
      }
      dealt.set(key, d)
    }
    return d
  }
}

/** A member's nonce store over the dealer; it records every use and refuses a second message. */
export function memoryNonceStore(dealer: ReturnType<typeof createNonceDealer>, index: number) {
  const used = new Map<string, Hex>()
  const store: NonceStore & { used: Map<string, Hex> } = {
    used,
    async get(round, view): Promise<RoundNonce> {
      const d = dealer(round, view)
      return { share: d.shares[index - 1] as bigint, point: d.point, shares: d.sharePoints }
    },
    async use(round, view, message) {
      const key = `${round}/${view}`
      const previous = used.get(key)
      if (previous !== undefined && previous !== message) {
        throw new Error(`nonce ${key} already signed another message`)
      }
      used.set(key, message)
    },
  }
  return store
}

/** Deterministic oracle keys for member i. */
export function memberAccount(seed: string, i: number): PrivateKeyAccount {
  return privateKeyToAccount(keccak256(toHex(`${seed}/member/${i}`)))
}
