import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import pino from 'pino'
import { type Anvil, startAnvil } from './anvil.ts'
import { createRpcPool, RpcPoolError, redactRpcUrl } from './rpc-pool.ts'

/** A pino logger whose lines the test can read. */
function captureLogger() {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line))
      done()
    },
  })
  return { logger: pino({ level: 'info' }, stream), lines }
}

const mine = (anvil: Anvil, blocks: number) =>
  (async () => {
    for (let i = 0; i < blocks; i++) {
      await fetch(anvil.rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'evm_mine', params: [] }),
      })
    }
  })()

describe('createRpcPool', () => {
  let a: Anvil
  let b: Anvil
  let other: Anvil
  before(async () => {
    ;[a, b, other] = await Promise.all([startAnvil(), startAnvil(), startAnvil({ chainId: 999 })])
  })
  after(async () => {
    await Promise.all([a.stop(), b.stop(), other.stop()])
  })

  it('hands out the first healthy endpoint and reports each endpoint', async () => {
    const { logger } = captureLogger()
    const pool = createRpcPool({
      urls: [a.rpcUrl, b.rpcUrl],
      chainId: 31337,
      maxLagBlocks: 5,
      logger,
    })
    const client = await pool.client()
    assert.equal(await client.getChainId(), 31337)
    assert.equal(client.transport.url, a.rpcUrl)
    const status = pool.status()
    assert.equal(status.length, 2)
    for (const s of status) {
      assert.equal(s.healthy, true)
      assert.equal(s.reason, undefined)
      assert.equal(typeof s.head, 'bigint')
    }
  })

  it('takes out an endpoint on the wrong chain with a clear log line', async () => {
    const { logger, lines } = captureLogger()
    const pool = createRpcPool({
      urls: [other.rpcUrl, a.rpcUrl],
      chainId: 31337,
      maxLagBlocks: 5,
      logger,
    })
    const client = await pool.client()
    assert.equal(client.transport.url, a.rpcUrl)
    const [wrong, right] = pool.status()
    assert.equal(wrong!.healthy, false)
    assert.equal(wrong!.reason, 'wrong chain: serves chain 999, expected 31337')
    assert.equal(right!.healthy, true)
    const line = lines.find((l) => String(l.msg).includes('wrong chain'))
    assert.ok(line, 'a log line names the wrong chain')
    assert.equal(line.level, 50)
    assert.equal(line.url, `${other.rpcUrl}/`)
    assert.equal(line.chain_id, 31337)
    // Refreshing again does not repeat the line.
    await pool.refresh()
    assert.equal(lines.filter((l) => String(l.msg).includes('wrong chain')).length, 1)
  })

  it('leaves out an endpoint that lags by more than maxLagBlocks until it catches up', async () => {
    const { logger } = captureLogger()
    const [x, y] = await Promise.all([startAnvil(), startAnvil()])
    try {
      const pool = createRpcPool({
        urls: [y.rpcUrl, x.rpcUrl],
        chainId: 31337,
        maxLagBlocks: 2,
        logger,
      })
      await mine(x, 5)
      assert.equal((await pool.client()).transport.url, x.rpcUrl)
      const lagging = pool.status()[0]!
      assert.equal(lagging.healthy, false)
      assert.equal(lagging.head, 0n)
      assert.match(
        lagging.reason!,
        /^lagging: head 0 is 5 blocks behind the best head 5 \(max 2\)$/,
      )
      await mine(y, 3) // 2 behind: within the limit
      await pool.refresh()
      assert.deepEqual(
        pool.status().map((s) => [s.healthy, s.head]),
        [
          [true, 3n],
          [true, 5n],
        ],
      )
      assert.equal((await pool.client()).transport.url, y.rpcUrl)
    } finally {
      await Promise.all([x.stop(), y.stop()])
    }
  })

  it('cools down an endpoint that errors, then takes it back', async () => {
    const { logger, lines } = captureLogger()
    const z = await startAnvil()
    const port = z.port
    await z.stop()
    let restarted: Anvil | undefined
    try {
      const pool = createRpcPool({
        urls: [z.rpcUrl, a.rpcUrl],
        chainId: 31337,
        maxLagBlocks: 1000,
        logger,
        cooldownMs: 600,
      })
      assert.equal((await pool.client()).transport.url, a.rpcUrl)
      const down = pool.status()[0]!
      assert.equal(down.healthy, false)
      assert.match(down.reason!, /^unreachable: /)
      assert.ok(
        lines.some((l) => l.url === `${z.rpcUrl}/` && String(l.msg).includes('unreachable')),
      )

      restarted = await startAnvil({ port })
      await pool.refresh() // still cooling down: not asked
      assert.equal(pool.status()[0]!.healthy, false)
      await new Promise((r) => setTimeout(r, 650))
      await pool.refresh()
      assert.equal(pool.status()[0]!.healthy, true)
      assert.equal((await pool.client()).transport.url, z.rpcUrl)
      assert.ok(lines.some((l) => l.msg === 'RPC endpoint is healthy' && l.url === `${z.rpcUrl}/`))
    } finally {
      await restarted?.stop()
    }
  })

  it('reportFailure takes the endpoint out at once', async () => {
    const { logger } = captureLogger()
    const pool = createRpcPool({
      urls: [a.rpcUrl, b.rpcUrl],
      chainId: 31337,
      maxLagBlocks: 1000,
      logger,
    })
    const first = await pool.client()
    pool.reportFailure(first, new Error('boom'))
    assert.equal(pool.status()[0]!.reason, 'request failed: boom')
    assert.equal((await pool.client()).transport.url, b.rpcUrl)
  })

  it('throws RpcPoolError naming every endpoint when none is healthy', async () => {
    const { logger } = captureLogger()
    const dead = await startAnvil()
    await dead.stop()
    const secretUrl = `http://user:hunter2@127.0.0.1:${dead.port}/?apikey=abc`
    const pool = createRpcPool({
      urls: [other.rpcUrl, secretUrl],
      chainId: 31337,
      maxLagBlocks: 5,
      logger,
    })
    const err = await pool.client().then(
      () => assert.fail('expected an error'),
      (e: unknown) => e,
    )
    assert.ok(err instanceof RpcPoolError)
    assert.equal(err.shortMessage, 'no healthy RPC endpoint')
    assert.equal(err.retryable, true)
    assert.match(err.message, /wrong chain: serves chain 999/)
    assert.match(err.message, /unreachable: /)
    assert.ok(err.message.includes(`http://***:***@127.0.0.1:${dead.port}/?apikey=***`))
    assert.ok(!err.message.includes('hunter2'))
    assert.ok(!JSON.stringify(pool.status()).includes('hunter2'))
  })
})

describe('redactRpcUrl', () => {
  it('hides credentials, query values and key-like path segments', () => {
    assert.equal(redactRpcUrl('http://127.0.0.1:8545'), 'http://127.0.0.1:8545/')
    assert.equal(
      redactRpcUrl('https://mainnet.infura.io/v3/0123456789abcdef0123456789abcdef'),
      'https://mainnet.infura.io/v3/***',
    )
    assert.equal(
      redactRpcUrl('https://u:p@rpc.example/x?key=s3cret'),
      'https://***:***@rpc.example/x?key=***',
    )
    assert.equal(redactRpcUrl('not a url'), '<invalid URL>')
  })
})
