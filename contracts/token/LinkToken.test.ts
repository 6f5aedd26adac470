import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import { type Address, parseEventLogs, toHex } from 'viem'
import { LinkTokenAbi, LinkTokenBytecode } from '../../artifacts/abis.ts'
import {
  deployContract,
  expectRevert,
  LINK,
  linkBalance,
  send,
  startTestChain,
  type TestChain,
} from '../../src/chain/testing.ts'

describe('LinkToken', () => {
  let chain: TestChain
  let link: Address
  before(async () => {
    chain = await startTestChain()
  })
  after(async () => {
    await chain?.stop()
  })
  beforeEach(async () => {
    link = await deployContract(chain.owner, {
      name: 'LinkToken',
      abi: LinkTokenAbi,
      bytecode: LinkTokenBytecode,
      args: [],
    })
  })
  const token = () => ({ address: link, abi: LinkTokenAbi }) as const
  const read = <T>(functionName: string, args: unknown[] = []) =>
    chain.owner.readContract({ ...token(), functionName, args } as never) as Promise<T>

  it('has 18 decimals and its whole fixed supply with the deployer', async () => {
    assert.equal(await read('decimals'), 18)
    assert.equal(await read('symbol'), 'LINK')
    assert.equal(await read('totalSupply'), 10n ** 27n)
    assert.equal(await linkBalance(chain, link, chain.owner.account.address), 10n ** 27n)
  })

  it('transfers, approves and transfers from, within the allowance only', async () => {
    const alice = chain.stranger.account.address
    const bob = chain.outsider.account.address
    await send(chain.owner, { ...token(), functionName: 'transfer', args: [alice, 5n * LINK] })
    await send(chain.stranger, { ...token(), functionName: 'approve', args: [bob, 2n * LINK] })
    await expectRevert(
      chain.outsider,
      { ...token(), functionName: 'transferFrom', args: [alice, bob, 3n * LINK] },
      'InsufficientAllowance',
      [alice, bob, 2n * LINK, 3n * LINK],
    )
    await send(chain.outsider, {
      ...token(),
      functionName: 'transferFrom',
      args: [alice, bob, 2n * LINK],
    })
    assert.equal(await read('allowance', [alice, bob]), 0n)
    assert.equal(await linkBalance(chain, link, alice), 3n * LINK)
    assert.equal(await linkBalance(chain, link, bob), 2n * LINK)
    await expectRevert(
      chain.stranger,
      { ...token(), functionName: 'transfer', args: [bob, 4n * LINK] },
      'InsufficientBalance',
      [alice, 3n * LINK, 4n * LINK],
    )
  })

  it('refuses the zero address and the token itself as recipients', async () => {
    for (const to of ['0x0000000000000000000000000000000000000000', link] as Address[]) {
      await expectRevert(
        chain.owner,
        { ...token(), functionName: 'transfer', args: [to, 1n] },
        'InvalidRecipient',
        [to],
      )
      await expectRevert(
        chain.owner,
        { ...token(), functionName: 'transferAndCall', args: [to, 1n, '0x'] },
        'InvalidRecipient',
        [to],
      )
    }
  })

  it('transferAndCall to an account: moves tokens and logs both Transfer events', async () => {
    const to = chain.stranger.account.address
    const receipt = await send(chain.owner, {
      ...token(),
      functionName: 'transferAndCall',
      args: [to, LINK, toHex('hello')],
    })
    const events = parseEventLogs({ abi: LinkTokenAbi, logs: receipt.logs, eventName: 'Transfer' })
    assert.equal(events.length, 2)
    assert.deepEqual(
      events.map((e) => e.args),
      [
        { from: chain.owner.account.address, to, value: LINK },
        { from: chain.owner.account.address, to, value: LINK, data: toHex('hello') },
      ],
    )
    assert.equal(await linkBalance(chain, link, to), LINK)
  })

  it('transferAndCall to a contract that refuses: the transfer is undone', async () => {
    // Another token contract has no onTokenTransfer, so the call reverts.
    const consumer = await deployContract(chain.owner, {
      name: 'LinkToken',
      abi: LinkTokenAbi,
      bytecode: LinkTokenBytecode,
      args: [],
    })
    let reverted = false
    try {
      await chain.owner.simulateContract({
        ...token(),
        functionName: 'transferAndCall',
        args: [consumer, LINK, '0x'],
        account: chain.owner.account,
      })
    } catch {
      reverted = true
    }
    assert.ok(reverted)
    assert.equal(await linkBalance(chain, link, consumer), 0n)
  })
})
