import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Address } from 'viem'
import { ReputationAbi, ReputationBytecode } from '../../artifacts/abis.ts'
import { ANVIL_PRIVATE_KEYS } from '../chain/anvil.ts'
import { deployContract, send, startTestChain, type TestChain } from '../chain/testing.ts'
import { specIdOf } from '../node/directrequest.ts'
import { type LocalNode, startLocalNode } from '../node/local.ts'
import { runCli } from './testing.ts'

/**
 * `orakel reputation` and `GET /v2/reputation/<oracle>` against a real Reputation contract on
 * anvil, through a running node: records written by a writer are read back with the rates the
 * contract derives; bad parameters are refused naming them.
 */
describe('reputation through the node API and the CLI', () => {
  let chain: TestChain
  let node: LocalNode
  let reputation: Address
  let tokenFile: string
  const JOB = '5b1e0c6d-8f2a-4c3b-9d4e-1a2b3c4d5e6f'
  const A = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8' as Address
  const B = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC' as Address

  before(async () => {
    chain = await startTestChain()
    reputation = await deployContract(chain.owner, {
      name: 'Reputation',
      abi: ReputationAbi,
      bytecode: ReputationBytecode,
      args: [chain.owner.account.address],
    })
    const specId = specIdOf(JOB)
    await send(chain.owner, {
      address: reputation,
      abi: ReputationAbi,
      functionName: 'setWriter',
      args: [chain.owner.account.address, true],
    })
    await send(chain.owner, {
      address: reputation,
      abi: ReputationAbi,
      functionName: 'recordAssignments',
      args: [specId, [A, B], 10n ** 18n],
    })
    await send(chain.owner, {
      address: reputation,
      abi: ReputationAbi,
      functionName: 'recordOutcomes',
      args: [
        specId,
        [
          { oracle: A, completed: true, accepted: true, responseSeconds: 4, penalty: 0n },
          { oracle: B, completed: false, accepted: false, responseSeconds: 0, penalty: 10n ** 18n },
        ],
      ],
    })
    node = await startLocalNode({
      rpcUrl: chain.anvil.rpcUrl,
      chainId: chain.anvil.chainId,
      privateKey: ANVIL_PRIVATE_KEYS[1]!,
    })
    tokenFile = join(node.dataDir, 'api-token')
    await writeFile(tokenFile, node.node.apiToken)
  })
  after(async () => {
    await node?.stop()
    await chain?.stop()
  })

  const get = async (path: string) => {
    const res = await fetch(`${node.node.apiUrl}${path}`, {
      headers: { authorization: `Bearer ${node.node.apiToken}` },
    })
    // biome-ignore lint/suspicious/noExplicitAny: JSON read field by field below
    return { status: res.status, json: (await res.json()) as Record<string, any> }
  }

  it('serves a record with its derived rates', async () => {
    const res = await get(`/v2/reputation/${A}?contract=${reputation}&specId=${JOB}`)
    assert.equal(res.status, 200, JSON.stringify(res.json))
    const r = res.json.reputation
    assert.equal(r.oracle, A)
    assert.equal(r.specId, specIdOf(JOB))
    assert.deepEqual([r.assigned, r.completed, r.accepted, r.missed].map(Number), [1, 1, 1, 0])
    assert.equal(Number(r.completionRateBps), 10_000)
    assert.equal(Number(r.averageResponseSeconds), 4)
    const b = (await get(`/v2/reputation/${B}?contract=${reputation}&specId=${specIdOf(JOB)}`)).json
      .reputation
    assert.deepEqual([b.assigned, b.completed, b.missed].map(Number), [1, 0, 1])
    assert.equal(String(b.penaltiesPaid), String(10n ** 18n))
    assert.equal(Number(b.completionRateBps), 0)
    assert.ok(
      BigInt(r.score) > BigInt(b.score),
      'an oracle that answered scores above one that did not',
    )
  })

  it('refuses bad parameters, naming them', async () => {
    const noContract = await get(`/v2/reputation/${A}?specId=${JOB}`)
    assert.equal(noContract.status, 400)
    assert.match(noContract.json.error.message, /query parameter "contract"/)
    const badSpec = await get(`/v2/reputation/${A}?contract=${reputation}&specId=nope`)
    assert.equal(badSpec.status, 400)
    assert.match(badSpec.json.error.message, /invalid spec id "nope"/)
    const badOracle = await get(`/v2/reputation/0x12?contract=${reputation}&specId=${JOB}`)
    assert.equal(badOracle.status, 400)
    assert.match(badOracle.json.error.message, /invalid oracle address "0x12"/)
  })

  it('orakel reputation prints the table', async () => {
    const out = await runCli([
      'reputation',
      A,
      B,
      '--contract',
      reputation,
      '--spec',
      JOB,
      '--url',
      node.node.apiUrl,
      '--token-file',
      tokenFile,
    ])
    assert.equal(out.code, 0, out.stderr)
    const lines = out.stdout.trim().split('\n')
    assert.match(
      lines[0]!,
      /^oracle\s+assigned\s+completed\s+accepted\s+missed\s+completion\s+accuracy/,
    )
    assert.match(
      lines[1]!,
      new RegExp(`^${A}\\s+1\\s+1\\s+1\\s+0\\s+100\\.0%\\s+100\\.0%\\s+4\\s+0\\s+\\d+$`),
    )
    assert.match(lines[2]!, new RegExp(`^${B}\\s+1\\s+0\\s+0\\s+1\\s+0\\.0%`))
  })
})
