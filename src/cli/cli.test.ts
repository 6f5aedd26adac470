import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type Address, createPublicClient, http } from 'viem'
import { privateKeyToAddress } from 'viem/accounts'
import { OperatorAbi } from '../../artifacts/abis.ts'
import { ANVIL_PRIVATE_KEYS, type Anvil, startAnvil } from '../chain/anvil.ts'
import { encryptKeystore } from '../crypto/keystore.ts'
import { runCli } from './testing.ts'

const run = runCli

describe('orakel CLI', () => {
  let anvil: Anvil
  let dir: string
  const key = ANVIL_PRIVATE_KEYS[0]
  before(async () => {
    anvil = await startAnvil()
    dir = await mkdtemp(join(tmpdir(), 'orakel-cli-'))
  })
  after(async () => {
    await anvil?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('--help on every command', async () => {
    const top = await run(['--help'])
    assert.equal(top.code, 0)
    assert.match(top.stdout, /deploy/)
    assert.match(top.stdout, /demo/)
    const deploy = await run(['deploy', '--help'])
    assert.equal(deploy.code, 0)
    for (const flag of ['--rpc-url', '--private-key-file', '--keystore', '--password-file']) {
      assert.ok(deploy.stdout.includes(flag), flag)
    }
    assert.equal((await run(['demo', '--help'])).code, 0)
  })

  it('deploy with a private key file prints the addresses as JSON', async () => {
    const keyFile = join(dir, 'key')
    await writeFile(keyFile, `${key}\n`)
    const node = privateKeyToAddress(ANVIL_PRIVATE_KEYS[1])
    const res = await run([
      'deploy',
      '--rpc-url',
      anvil.rpcUrl,
      '--private-key-file',
      keyFile,
      '--authorized-sender',
      node,
    ])
    assert.equal(res.code, 0, res.stderr)
    const out = JSON.parse(res.stdout) as { linkToken: Address; operator: Address; owner: Address }
    const client = createPublicClient({ transport: http(anvil.rpcUrl) })
    assert.ok(((await client.getCode({ address: out.linkToken })) ?? '0x').length > 2)
    const read = (functionName: 'owner' | 'getChainlinkToken') =>
      client.readContract({ address: out.operator, abi: OperatorAbi, functionName })
    assert.equal(await read('owner'), privateKeyToAddress(key))
    assert.equal(await read('getChainlinkToken'), out.linkToken)
    assert.equal(
      await client.readContract({
        address: out.operator,
        abi: OperatorAbi,
        functionName: 'isAuthorizedSender',
        args: [node],
      }),
      true,
    )
  })

  it('deploy with a keystore and a password file; a wrong password fails closed', async () => {
    const keystore = join(dir, 'keystore.json')
    await writeFile(
      keystore,
      JSON.stringify(await encryptKeystore(key, 'correct horse', { scryptN: 1024 })),
    )
    const good = join(dir, 'pw')
    await writeFile(good, 'correct horse\n')
    const ok = await run([
      'deploy',
      '--rpc-url',
      anvil.rpcUrl,
      '--keystore',
      keystore,
      '--password-file',
      good,
    ])
    assert.equal(ok.code, 0, ok.stderr)
    assert.equal(JSON.parse(ok.stdout).owner, privateKeyToAddress(key))

    const bad = await run(['deploy', '--rpc-url', anvil.rpcUrl, '--keystore', keystore], {
      ORAKEL_KEYSTORE_PASSWORD: 'wrong',
    })
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /wrong password/)
    assert.equal(bad.stdout, '')
    assert.ok(!bad.stderr.includes(key.slice(2)))
  })

  it('bad invocations name what was wrong', async () => {
    const keyFile = join(dir, 'key2')
    await writeFile(keyFile, key)
    const cases: [string[], RegExp][] = [
      [['deploy', '--rpc-url', anvil.rpcUrl], /--private-key-file or --keystore/],
      [['deploy', '--private-key-file', keyFile], /--rpc-url/],
      [
        ['deploy', '--rpc-url', anvil.rpcUrl, '--private-key-file', keyFile, '--keystore', keyFile],
        /cannot be used with/,
      ],
      [
        ['deploy', '--rpc-url', 'http://127.0.0.1:1', '--private-key-file', keyFile],
        /cannot reach the RPC/,
      ],
      [
        ['deploy', '--rpc-url', anvil.rpcUrl, '--private-key-file', keyFile, '--chain-id', '5'],
        /serves chain 31337/,
      ],
      [
        [
          'deploy',
          '--rpc-url',
          anvil.rpcUrl,
          '--private-key-file',
          keyFile,
          '--authorized-sender',
          'nope',
        ],
        /nope is not an address/,
      ],
      [
        ['deploy', '--rpc-url', anvil.rpcUrl, '--private-key-file', join(dir, 'missing')],
        /missing/,
      ],
      [['frobnicate'], /unknown command/],
    ]
    for (const [args, pattern] of cases) {
      const res = await run(args)
      assert.notEqual(res.code, 0, args.join(' '))
      assert.match(res.stderr, pattern, args.join(' '))
    }
  })

  it('jobs validate prints the graph of a good spec and every error of a bad one', async () => {
    const fixture = join(import.meta.dirname, '../../test/fixtures/get-uint256.toml')
    const good = await run(['jobs', 'validate', fixture])
    assert.equal(good.code, 0, good.stderr)
    assert.match(good.stdout, /directrequest job "Get > Uint256", valid/)
    assert.match(good.stdout, /hash [0-9a-f]{64}/)
    assert.match(good.stdout, /multiply\s+multiply <- parse/)

    const bad = join(dir, 'bad.toml')
    await writeFile(
      bad,
      'type = "directrequest"\nschemaVersion = 1\ncontractAddress = "0x12"\nobservationSource = """\na [type=nope]\na -> b\n"""\n',
    )
    const res = await run(['jobs', 'validate', bad])
    assert.equal(res.code, 1)
    assert.match(res.stderr, /bad\.toml:3:1: "contractAddress": must be an address/)
    assert.match(res.stderr, /bad\.toml:6:6: edge refers to task b, which is not declared/)
    assert.match(res.stderr, /is not a valid job spec \(2 error\(s\)\)/)
    assert.match((await run(['jobs', 'validate', join(dir, 'none.toml')])).stderr, /cannot read/)
  })
})
