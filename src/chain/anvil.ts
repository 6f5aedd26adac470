import { type ChildProcess, spawn } from 'node:child_process'
import { readdir, readFile, readlink } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { type AddressInfo, createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { BaseError } from '../errors.ts'

const require = createRequire(import.meta.url)

export class AnvilError extends BaseError {
  override name = 'AnvilError'
}

/** Path of the anvil binary shipped by the `@foundry-rs/anvil-<platform>` npm package. */
export function anvilBinary(): string {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch
  const pkg = `@foundry-rs/anvil-${process.platform}-${arch}`
  try {
    const root = dirname(require.resolve(`${pkg}/package.json`))
    return join(root, 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil')
  } catch (cause) {
    throw new AnvilError(`anvil is not installed for ${process.platform}-${process.arch}`, {
      details: `the npm package ${pkg} is missing; run npm ci`,
      cause,
    })
  }
}

export type StartAnvilParameters = {
  /** Port on 127.0.0.1; 0 (default) lets the system pick a free one. */
  port?: number
  chainId?: number
  /** Seconds between blocks; by default anvil mines one block per transaction. */
  blockTime?: number
  /** Extra command-line arguments. */
  args?: string[]
  /** Milliseconds to wait for anvil to listen. */
  timeoutMs?: number
}

export type Anvil = {
  rpcUrl: string
  port: number
  chainId: number
  process: ChildProcess
  /** Stops anvil and waits for it to exit. Safe to call more than once. */
  stop(): Promise<void>
}

const running = new Set<ChildProcess>()
let exitHookInstalled = false
function installExitHook() {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // Never leave an anvil behind when the process that started it ends.
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL')
  })
}

/** Anvil's well-known development accounts (mnemonic "test test ... junk"). */
export const ANVIL_PRIVATE_KEYS = [
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
  '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
  '0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a',
  '0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba',
  '0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e',
  '0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356',
  '0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97',
  '0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6',
] as const

/**
 * Starts anvil on 127.0.0.1 and resolves once it accepts JSON-RPC. The returned `stop()` kills
 * it; it is also killed when this process exits.
 *
 * Anvil runs with `--quiet`: its log line for every call and every mined transaction costs it
 * about a third of its throughput. A quiet anvil does not print the port it bound, so the port
 * is chosen here (a free one from the system) and anvil is started on it; should another
 * process take it in between, anvil exits and a fresh port is tried.
 */
export async function startAnvil(params: StartAnvilParameters = {}): Promise<Anvil> {
  const attempts = params.port ? 1 : 3
  for (let attempt = 1; ; attempt++) {
    const port = params.port || (await freePort())
    try {
      return await launch(port, params)
    } catch (err) {
      if (attempt >= attempts || !(err instanceof AnvilExitedError)) throw err
    }
  }
}

class AnvilExitedError extends AnvilError {}

function launch(port: number, params: StartAnvilParameters): Promise<Anvil> {
  const chainId = params.chainId ?? 31337
  const args = [
    '--quiet',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--chain-id',
    String(chainId),
    '--accounts',
    String(ANVIL_PRIVATE_KEYS.length),
    ...(params.blockTime ? ['--block-time', String(params.blockTime)] : []),
    ...(params.args ?? []),
  ]
  const child = spawn(anvilBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(child)
  installExitHook()
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  exited.then(() => running.delete(child))

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
    await exited
    clearTimeout(timer)
  }

  // A quiet anvil prints only errors; keep the last of them for the error message, and keep
  // draining so a full pipe never blocks it.
  let output = ''
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-2000)
  }
  child.stdout.on('data', collect)
  child.stderr.on('data', collect)
  const timeoutMs = params.timeoutMs ?? 15_000
  const rpcUrl = `http://127.0.0.1:${port}`
  const abort = new AbortController()
  const failed = new Promise<never>((_, reject) => {
    const timer = setTimeout(
      () => reject(new AnvilError('anvil did not start in time', { details: output })),
      timeoutMs,
    )
    abort.signal.addEventListener('abort', () => clearTimeout(timer))
    child.once('error', (cause) => reject(new AnvilError('anvil could not be started', { cause })))
    child.once('exit', (code) =>
      reject(new AnvilExitedError(`anvil exited with code ${code}`, { details: output })),
    )
  })
  const ready = async () => {
    await waitForRpc(rpcUrl, chainId, abort.signal)
    // Another anvil (same chain id) may hold the port while this one fails to bind it: where
    // the system tells which process owns a socket, make sure it is this one.
    if ((await listenerOwner(port, child.pid)) === 'other') {
      throw new AnvilExitedError(`port ${port} is held by another process`)
    }
  }
  return Promise.race([ready(), failed]).then(
    () => {
      abort.abort()
      return { rpcUrl, port, chainId, process: child, stop }
    },
    async (err) => {
      abort.abort()
      await stop()
      throw err
    },
  )
}

/**
 * Whether the socket listening on 127.0.0.1:`port` belongs to process `pid`, from Linux's
 * /proc (the listener's inode among the process's open sockets); 'unknown' elsewhere.
 */
async function listenerOwner(
  port: number,
  pid: number | undefined,
): Promise<'this' | 'other' | 'unknown'> {
  if (process.platform !== 'linux' || pid === undefined) return 'unknown'
  try {
    const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`
    const table = await readFile('/proc/net/tcp', 'utf8')
    const inodes = table
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      // local_address, state 0A (LISTEN), inode
      .filter((f) => f[1] === local && f[3] === '0A')
      .map((f) => f[9])
    if (inodes.length === 0) return 'unknown'
    const fds = await readdir(`/proc/${pid}/fd`)
    const sockets = new Set<string>()
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')
      const match = /^socket:\[(\d+)\]$/.exec(target)
      if (match) sockets.add(match[1]!)
    }
    return inodes.some((inode) => inode !== undefined && sockets.has(inode)) ? 'this' : 'other'
  } catch {
    return 'unknown'
  }
}

/** A port on 127.0.0.1 that nothing listens on at the moment of asking. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** Resolves once `rpcUrl` answers `eth_chainId` with `chainId` (anvil's, not another's). */
async function waitForRpc(rpcUrl: string, chainId: number, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      const res = await fetch(rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
        // Whatever holds the port may accept and never answer.
        signal: AbortSignal.any([signal, AbortSignal.timeout(1000)]),
      })
      const body = (await res.json()) as { result?: string }
      if (res.ok && body.result !== undefined && Number(body.result) === chainId) return
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 20))
  }
}
