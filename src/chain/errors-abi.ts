import type { Abi } from 'viem'
import * as abis from '../../artifacts/abis.ts'

/** Every custom error declared by any Orakel contract, so reverts decode wherever they come from. */
export const contractErrorsAbi: Abi = (() => {
  const seen = new Set<string>()
  const out: Abi[number][] = []
  for (const [name, value] of Object.entries(abis)) {
    if (!name.endsWith('Abi')) continue
    for (const item of value as Abi) {
      if (item.type !== 'error') continue
      const key = `${item.name}(${item.inputs.map((i) => i.type).join(',')})`
      if (seen.has(key)) continue
      seen.add(key)
      out.push(item)
    }
  }
  return out
})()
