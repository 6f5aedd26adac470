import assert from 'node:assert/strict'
import { createServer as createHttpServer } from 'node:http'
import { createServer } from 'node:net'
import { describe, it } from 'node:test'
import { startAnvil } from './anvil.ts'

const rpc = (url: string, method: string) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: [] }),
  }).then((r) => r.json() as Promise<{ result: string }>)

describe('startAnvil', () => {
  it('starts on a free 127.0.0.1 port, answers JSON-RPC, and stops', async () => {
    const anvil = await startAnvil({ chainId: 4242 })
    assert.match(anvil.rpcUrl, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.equal((await rpc(anvil.rpcUrl, 'eth_chainId')).result, '0x1092')
    await anvil.stop()
    assert.notEqual(anvil.process.exitCode ?? anvil.process.signalCode, null)
    await assert.rejects(rpc(anvil.rpcUrl, 'eth_chainId'))
    await anvil.stop() // a second stop is harmless
  })

  it('two chains run side by side on different ports', async () => {
    const [a, b] = await Promise.all([startAnvil(), startAnvil()])
    try {
      assert.notEqual(a.port, b.port)
      assert.equal((await rpc(a.rpcUrl, 'eth_blockNumber')).result, '0x0')
      assert.equal((await rpc(b.rpcUrl, 'eth_blockNumber')).result, '0x0')
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
  })

  it('fails with a clear error when the port is taken', async () => {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as { port: number }
    try {
      await assert.rejects(startAnvil({ port }), (err: Error) => {
        assert.equal(err.name, 'AnvilError')
        assert.match(err.message, /anvil exited|did not start/)
        return true
      })
    } finally {
      server.close()
    }
  })

  it('never hands back another process that answers on its port for the same chain', async () => {
    // A JSON-RPC server that claims to be chain 31337 holds the port first.
    const impostor = createHttpServer((_req, res) => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: '0x7a69' }))
    })
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve))
    const { port } = impostor.address() as { port: number }
    try {
      await assert.rejects(startAnvil({ port }), (err: Error) => {
        assert.equal(err.name, 'AnvilError')
        assert.match(
          err.message,
          process.platform === 'linux' ? /port \d+ is held by another process/ : /./,
        )
        return true
      })
    } finally {
      impostor.close()
    }
  })
})
