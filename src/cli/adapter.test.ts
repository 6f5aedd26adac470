import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, describe, it } from 'node:test'
import { main } from './main.ts'
import { CLI_MAIN, runCli } from './testing.ts'

const MAIN = CLI_MAIN
const run = runCli

/**
 * Runs `orakel <args>` in this process (fast, for commands that fail before serving),
 * capturing what it writes to stderr.
 */
async function runInProcess(args: string[]) {
  let stderr = ''
  const write = process.stderr.write
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk)
    return true
  }) as typeof process.stderr.write
  try {
    const code = await main(args)
    return { code, stderr }
  } finally {
    process.stderr.write = write
  }
}

type Started = {
  child: ChildProcess
  lines: string[]
  line: string
  next(n: number): Promise<string[]>
}
const children: ChildProcess[] = []

/** Starts a long-running `orakel <args>`; resolves once it printed its first line. */
async function start(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Started> {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let stderr = ''
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString()
  })
  const lines: string[] = []
  const rl = createInterface({ input: child.stdout! })
  rl.on('line', (l) => lines.push(l))
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`orakel ${args.join(' ')} exited ${code}: ${stderr}`)
  })
  exited.catch(() => {})
  const next = async (n: number) => {
    while (lines.length < n) await Promise.race([once(rl, 'line'), exited])
    return lines.slice(0, n)
  }
  const [line] = await next(1)
  return { child, lines, line: line!, next }
}

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const [code] = await exited
  return code as number | null
}

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orakel-adapter-cli-'))
})
after(async () => {
  await Promise.all(children.map((c) => stop(c)))
  await rm(dir, { recursive: true, force: true })
})

type Exchange = { name: string; url: string; priceUrl: string; fault: string }

describe('orakel sources and orakel adapter', () => {
  it('sources serves labelled exchanges and writes a price config the price adapter runs on', async () => {
    const configFile = join(dir, 'price.json')
    const sources = await start([
      'sources',
      '--json',
      '--seed',
      '42',
      '--count',
      '4',
      '--pairs',
      'ETH-USD=3000',
      '--fault',
      '4=down:503',
      '--price-config',
      configFile,
    ])
    const described = JSON.parse(sources.line) as {
      simulated: boolean
      seed: number
      exchanges: Exchange[]
    }
    assert.equal(described.simulated, true)
    assert.equal(described.seed, 42)
    assert.deepEqual(
      described.exchanges.map((e) => [e.name, e.fault]),
      [
        ['sim-exchange-1', 'none'],
        ['sim-exchange-2', 'none'],
        ['sim-exchange-3', 'none'],
        ['sim-exchange-4', 'down:503'],
      ],
    )
    const first = await fetch(described.exchanges[0]!.priceUrl.replace('{pair}', 'ETH-USD'))
    assert.equal(first.headers.get('x-orakel-simulated'), 'true')
    assert.equal(((await first.json()) as { simulated: boolean }).simulated, true)
    const config = JSON.parse(await readFile(configFile, 'utf8')) as {
      minSources: number
      sources: unknown[]
    }
    assert.equal(config.minSources, 3)
    assert.equal(config.sources.length, 4)

    const tokenFile = join(dir, 'token')
    await writeFile(tokenFile, 'adapter-token\n')
    const adapter = await start([
      'adapter',
      'price',
      '--config',
      configFile,
      '--port',
      '0',
      '--token-file',
      tokenFile,
      '--log-level',
      'silent',
    ])
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+) /.exec(adapter.line)![1]!
    assert.match(adapter.line, /^adapter price listening on/)
    const unauthorized = await fetch(url, {
      method: 'POST',
      body: '{"id":"1","data":{"pair":"ETH-USD"}}',
    })
    assert.equal(unauthorized.status, 401)
    await unauthorized.body?.cancel()
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: 'Bearer adapter-token' },
      body: '{"id":"1","data":{"pair":"ETH-USD"}}',
    })
    const body = (await res.json()) as {
      result: number
      data: { usedOrigins: number; sources: { status: string }[] }
    }
    assert.equal(res.status, 200, JSON.stringify(body))
    assert.ok(body.result > 2900 && body.result < 3100, `${body.result}`)
    assert.equal(body.data.usedOrigins, 3)
    assert.equal(body.data.sources[3]!.status, 'failed')
    const schema = (await (await fetch(`${url}/schema`)).json()) as { name: string }
    assert.equal(schema.name, 'price')

    assert.equal(await stop(adapter.child), 0)
    assert.equal(await stop(sources.child), 0)
  })

  it('sources prints a readable list by default', async () => {
    const sources = await start(['sources', '--count', '2', '--seed', '7', '--fault', '2=slow:100'])
    assert.match(
      sources.line,
      /^SIMULATED exchanges: made-up prices for ETH-USD, BTC-USD, LINK-USD \(seed 7; --seed 7 reproduces them\)$/,
    )
    const lines = await sources.next(3)
    assert.match(
      lines[1]!,
      /sim-exchange-1 +http:\/\/127\.0\.0\.1:\d+\/price\?pair=<PAIR> +offset [+-]\d\.\d{3} % +fault none/,
    )
    assert.match(lines[2]!, /sim-exchange-2 .* fault slow:100$/)
    assert.equal(await stop(sources.child), 0)
  })

  it('http-json and event adapters start with their defaults', async () => {
    for (const name of ['http-json', 'event']) {
      const adapter = await start(['adapter', name, '--port', '0', '--log-level', 'silent'])
      const url = /listening on (\S+) /.exec(adapter.line)![1]!
      const schema = (await (await fetch(`${url}/schema`)).json()) as {
        name: string
        input: { required: string[] }
      }
      assert.equal(schema.name, name)
      assert.ok(schema.input.required.includes('url'))
      assert.equal(await stop(adapter.child), 0)
    }
  })

  it('rejects bad options, naming the option', async () => {
    const badConfig = join(dir, 'bad.toml')
    await writeFile(
      badConfig,
      'minSources = 0\n[[sources]]\nname = "a"\nurl = "nope"\npath = "p"\n',
    )
    const emptyToken = join(dir, 'empty-token')
    await writeFile(emptyToken, '\n')
    const cases: [string[], RegExp][] = [
      [
        ['sources', '--count', '0'],
        /option '--count <n>' argument '0' is invalid. expected a whole number from 1 to 100/,
      ],
      [['sources', '--seed', '-1'], /option '--seed <n>' argument '-1' is invalid/],
      [
        ['sources', '--pairs', 'ETH-USD'],
        /option '--pairs <list>' argument 'ETH-USD' is invalid. expected PAIR=PRICE/,
      ],
      [['sources', '--port-base', '70000'], /option '--port-base <n>' argument '70000' is invalid/],
      [
        ['sources', '--spread', '2'],
        /option '--spread <fraction>' argument '2' is invalid. expected a number from 0 to 0.5/,
      ],
      [['sources', '--fault', '3'], /--fault "3": expected <exchange number>=<mode>/],
      [['sources', '--count', '2', '--fault', '3=down'], /--fault 3=down: there is no exchange 3/],
      [
        ['sources', '--fault', '1=wrong:abc'],
        /--fault 1=wrong:abc: invalid fault "wrong:abc": the error \(percent\) must be a number/,
      ],
      [
        ['sources', '--port-base', '65535', '--count', '2'],
        /--port-base 65535: 2 exchanges do not fit/,
      ],
      [['adapter', 'price'], /required option '--config <file>' not specified/],
      [
        ['adapter', 'price', '--config', join(dir, 'none.toml')],
        /none\.toml: cannot read the file/,
      ],
      [
        ['adapter', 'price', '--config', badConfig],
        /bad\.toml:minSources: .*\n.*bad\.toml:sources\[0\]\.url: expected an http\(s\) URL template/,
      ],
      [
        ['adapter', 'http-json', '--port', 'x'],
        /option '--port <n>' argument 'x' is invalid. expected a port from 0 to 65535/,
      ],
      [
        ['adapter', 'event', '--max-body-bytes', '0'],
        /option '--max-body-bytes <n>' argument '0' is invalid/,
      ],
      [
        ['adapter', 'event', '--log-level', 'loud'],
        /option '--log-level <level>' argument 'loud' is invalid/,
      ],
      [['adapter', 'event', '--token-file', emptyToken], /--token-file: .*empty-token is empty/],
      [
        ['adapter', 'event', '--callback-origin', 'ftp://x'],
        /--callback-origin: "ftp:\/\/x" is not an http\(s\) URL/,
      ],
      [
        ['adapter', 'http-json', '--secrets', join(dir, 'none.toml')],
        /none\.toml: cannot read the file/,
      ],
      [['adapter', 'nope'], /unknown command 'nope'/],
    ]
    for (const [args, pattern] of cases) {
      const res = await runInProcess(args)
      assert.notEqual(res.code, 0, args.join(' '))
      assert.match(res.stderr, pattern, args.join(' '))
    }
    // Once through a real process, with the environment.
    const emptyEnv = await run(['adapter', 'event'], { ORAKEL_ADAPTER_TOKEN: ' ' })
    assert.equal(emptyEnv.code, 1)
    assert.match(emptyEnv.stderr, /ORAKEL_ADAPTER_TOKEN is set but empty/)
  })
})
