import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Command, CommanderError } from 'commander'
import { type ApiServer, createApiServer } from '../api/server.ts'
import { createLogger, createMetrics } from '../common.ts'
import { createCredentialRepository } from '../store/credentials.ts'
import type { Db } from '../store/db.ts'
import { createRunRepository } from '../store/runs.ts'
import { openTestDatabase } from '../store/testing.ts'
import { prettyJson, table } from './api-client.ts'
import { bridgesCommand } from './bridges.ts'
import { jobsCommand } from './jobs.ts'
import { loginCommand, logoutCommand } from './login.ts'
import { printError } from './main.ts'
import { nodeStatusCommand } from './node-status.ts'
import { runsCommand } from './runs.ts'

const FIXTURE = join(import.meta.dirname, '../../test/fixtures/get-uint256.toml')
const ENV_KEYS = ['ORAKEL_API_URL', 'ORAKEL_API_TOKEN', 'ORAKEL_SESSION_FILE'] as const

type Env = Partial<Record<(typeof ENV_KEYS)[number], string>>

/** Runs the CLI in-process, as main() would, capturing its output. */
async function cli(args: string[], env: Env = {}) {
  const program = new Command('orakel').exitOverride()
  program.addCommand(jobsCommand())
  program.addCommand(runsCommand())
  program.addCommand(bridgesCommand())
  program.addCommand(loginCommand())
  program.addCommand(logoutCommand())
  program.addCommand(nodeStatusCommand())
  const out: string[] = []
  const err: string[] = []
  const saved = { log: console.log, error: console.error }
  const savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]))
  console.log = (...a: unknown[]) => out.push(a.join(' '))
  console.error = (...a: unknown[]) => err.push(a.join(' '))
  const quiet = (c: Command): void => {
    c.exitOverride().configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => err.push(s) })
    for (const sub of c.commands) quiet(sub)
  }
  quiet(program)
  for (const k of ENV_KEYS) {
    if (env[k] === undefined) delete process.env[k]
    else process.env[k] = env[k]
  }
  let code = 0
  try {
    await program.parseAsync(args, { from: 'user' })
  } catch (e) {
    if (e instanceof CommanderError) code = e.exitCode
    else {
      printError(e)
      code = 1
    }
  } finally {
    Object.assign(console, saved)
    for (const k of ENV_KEYS) {
      if (savedEnv[k] === undefined) delete process.env[k]
      else process.env[k] = savedEnv[k]
    }
  }
  return { code, stdout: out.join('\n'), stderr: err.join('\n') }
}

describe(`CLI against the REST API (${process.env.DATABASE_URL ? 'Postgres server' : 'PGlite'})`, () => {
  let db: Db
  let dir: string
  let api: ApiServer
  let token: string
  let env: Env
  let sessionPath: string

  before(async () => {
    db = await openTestDatabase()
    dir = await mkdtemp(join(tmpdir(), 'orakel-cli-api-'))
    token = await createCredentialRepository(db).ensureApiToken(dir)
    api = await createApiServer(
      { config: {}, logger: createLogger({ silent: true }), metrics: createMetrics(), db },
      {
        host: '127.0.0.1',
        port: 0,
        adminPassword: 'hunter2 hunter2',
        loginRateLimitPerMinute: 100,
        sessionTtlHours: 1,
        status: async () => ({ ok: true, chainId: 31337n }),
      },
    )
    sessionPath = join(dir, 'home', '.orakel', 'session')
    env = { ORAKEL_API_URL: api.url, ORAKEL_API_TOKEN: token, ORAKEL_SESSION_FILE: sessionPath }
  })
  after(async () => {
    await api?.close()
    await db?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('needs a credential and says how to get one', async () => {
    const none = await cli(['jobs', 'list'], { ...env, ORAKEL_API_TOKEN: undefined })
    assert.equal(none.code, 1)
    assert.match(none.stderr, /error: no API credential/)
    assert.match(none.stderr, /orakel login/)
    const wrong = await cli(['jobs', 'list'], { ...env, ORAKEL_API_TOKEN: 'A'.repeat(43) })
    assert.equal(wrong.code, 1)
    assert.match(wrong.stderr, /error: invalid or expired credential/)
    const down = await cli(['jobs', 'list', '--url', 'http://127.0.0.1:1'], env)
    assert.equal(down.code, 1)
    assert.match(down.stderr, /cannot reach the Orakel API at http:\/\/127\.0\.0\.1:1/)
  })

  it('takes the token from --token-file and the URL from --url before the environment', async () => {
    const file = join(dir, 'api-token')
    const res = await cli(['jobs', 'list', '--url', api.url, '--token-file', file], {
      ORAKEL_API_URL: 'http://127.0.0.1:1',
      ORAKEL_API_TOKEN: 'A'.repeat(43),
      ORAKEL_SESSION_FILE: sessionPath,
    })
    assert.equal(res.code, 0, res.stderr)
    assert.equal(res.stdout, 'no jobs')
  })

  it('logs in with a password file, uses the saved session, logs out', async () => {
    const pw = join(dir, 'pw')
    await writeFile(pw, 'wrong\n')
    const bad = await cli(['login', '--password-file', pw], env)
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /error: wrong password/)

    await writeFile(pw, 'hunter2 hunter2\n')
    const ok = await cli(['login', '--password-file', pw], { ...env, ORAKEL_API_TOKEN: undefined })
    assert.equal(ok.code, 0, ok.stderr)
    assert.match(ok.stdout, /logged in to http:\/\/127\.0\.0\.1:\d+/)
    assert.equal((await stat(sessionPath)).mode & 0o777, 0o600)
    const saved = JSON.parse(await readFile(sessionPath, 'utf8'))
    assert.equal(saved.url, api.url)
    assert.match(saved.token, /^[A-Za-z0-9_-]{43}$/)

    // The session gives both the URL and the credential.
    const sessionOnly: Env = { ORAKEL_SESSION_FILE: sessionPath }
    const status = await cli(['node', 'status'], sessionOnly)
    assert.equal(status.code, 0, status.stderr)
    assert.deepEqual(JSON.parse(status.stdout), { ok: true, chainId: 31337 })
    // It is never sent to another URL.
    const elsewhere = await cli(['jobs', 'list', '--url', 'http://127.0.0.1:1'], sessionOnly)
    assert.match(elsewhere.stderr, /no API credential/)

    const out = await cli(['logout'], sessionOnly)
    assert.equal(out.code, 0, out.stderr)
    await assert.rejects(stat(sessionPath), { code: 'ENOENT' })
    // The session is gone on the node too.
    assert.equal(
      (await fetch(`${api.url}/v2/jobs`, { headers: { authorization: `Bearer ${saved.token}` } }))
        .status,
      401,
    )
    const after = await cli(['jobs', 'list'], sessionOnly)
    assert.equal(after.code, 1)
    assert.match(after.stderr, /cannot reach|no API credential/)
  })

  it('creates, lists, shows and deletes jobs; shows their runs', async () => {
    const created = await cli(['jobs', 'create', FIXTURE], env)
    assert.equal(created.code, 0, created.stderr)
    assert.match(
      created.stdout,
      /^created job (\d+) "Get > Uint256" \(externalJobID 0eec7e1d-d0d2-476c-a1a8-72dfb6633f46\)$/,
    )
    const id = /created job (\d+)/.exec(created.stdout)![1]!

    const dup = await cli(['jobs', 'create', FIXTURE], env)
    assert.equal(dup.code, 1)
    assert.match(dup.stderr, /already exists/)

    const list = await cli(['jobs', 'list'], env)
    assert.equal(list.code, 0, list.stderr)
    assert.match(list.stdout, /^ID\s+EXTERNAL JOB ID\s+TYPE\s+CREATED\s+NAME\n/)
    assert.match(
      list.stdout,
      new RegExp(
        `^${id}\\s+0eec7e1d-d0d2-476c-a1a8-72dfb6633f46\\s+directrequest\\s+\\S+\\s+Get > Uint256$`,
        'm',
      ),
    )
    const json = await cli(['jobs', 'list', '--json'], env)
    assert.equal(JSON.parse(json.stdout)[0].id, id)

    const show = await cli(['jobs', 'show', '0eec7e1d-d0d2-476c-a1a8-72dfb6633f46'], env)
    assert.equal(show.code, 0, show.stderr)
    assert.match(show.stdout, /^evmChainID\s+31337$/m)
    assert.ok(show.stdout.includes('observationSource = """'))

    const runs = createRunRepository(db)
    const runId = randomUUID()
    await runs.create({ jobId: BigInt(id), runId, inputs: {} })
    const t = new Date()
    const store = runs.store(runId)
    await store.taskFinished({
      runId,
      taskId: 'fetch',
      type: 'http',
      index: 0,
      value: 2n ** 80n,
      attempts: 1,
      startedAt: t,
      finishedAt: t,
    })
    await store.runFinished({
      runId,
      outputs: [2n ** 80n],
      errors: [undefined],
      failed: false,
      stoppedBy: undefined,
      pending: [],
      tasks: new Map(),
      startedAt: t,
      finishedAt: t,
    })

    const runList = await cli(['runs', 'list', '--job', id], env)
    assert.equal(runList.code, 0, runList.stderr)
    assert.match(runList.stdout, new RegExp(`^${runId}\\s+completed`, 'm'))
    assert.match(runList.stdout, /runs 1-1 of 1/)
    const runShow = await cli(['runs', 'show', runId], env)
    assert.equal(runShow.code, 0, runShow.stderr)
    assert.match(runShow.stdout, /^state\s+completed$/m)
    assert.match(runShow.stdout, new RegExp(`^fetch\\s+http\\s+1\\s+${2n ** 80n}$`, 'm'))
    const runJson = await cli(['runs', 'show', runId, '--json'], env)
    assert.ok(runJson.stdout.includes(`"value": ${2n ** 80n}`), 'exact number in JSON output')
    const missing = await cli(['runs', 'show', randomUUID()], env)
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /error: no run/)
    assert.equal((await cli(['runs', 'list'], env)).code, 1, '--job is required')

    const del = await cli(['jobs', 'delete', id], env)
    assert.equal(del.code, 0, del.stderr)
    assert.equal(del.stdout, `deleted job ${id} "Get > Uint256"`)
    const gone = await cli(['jobs', 'show', id], env)
    assert.equal(gone.code, 1)
    assert.match(gone.stderr, new RegExp(`error: no job "${id}"`))
  })

  it('prints every issue of an invalid spec with file, line and column', async () => {
    const file = join(dir, 'bad.toml')
    await writeFile(
      file,
      `type = "directrequest"\nschemaVersion = 2\ncontractAddress = "0x613a38ac1659769640aae063c651f48e0250454c"\nobservationSource = """\na [type=nosuchtask]\n"""\n`,
    )
    const res = await cli(['jobs', 'create', file], env)
    assert.equal(res.code, 1)
    assert.ok(res.stderr.includes(`${file}:2:1: "schemaVersion"`), res.stderr)
    assert.match(res.stderr, new RegExp(`${file}:5:\\d+: .*nosuchtask`))
    assert.match(res.stderr, /is not a valid job spec \(2 error\(s\)\)/)
  })

  it('adds, lists and removes bridges, printing the tokens only once', async () => {
    const add = await cli(
      ['bridges', 'add', 'Prices', 'https://ea.example/x', '--confirmations', '2'],
      env,
    )
    assert.equal(add.code, 0, add.stderr)
    assert.match(add.stdout, /^added bridge prices -> https:\/\/ea\.example\/x$/m)
    const outgoing = /outgoing token .*: (\S+)/.exec(add.stdout)![1]!
    const incoming = /incoming token .*: (\S+)/.exec(add.stdout)![1]!
    assert.match(add.stderr, /shown only now/)
    const list = await cli(['bridges', 'list'], env)
    assert.match(list.stdout, /^prices\s+2\s+https:\/\/ea\.example\/x$/m)
    assert.ok(!list.stdout.includes(outgoing) && !list.stdout.includes(incoming))
    const bad = await cli(['bridges', 'add', 'x', 'ftp://nope'], env)
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /error: invalid bridge URL/)
    assert.equal((await cli(['bridges', 'remove', 'prices'], env)).stdout, 'removed bridge prices')
    const again = await cli(['bridges', 'remove', 'prices'], env)
    assert.match(again.stderr, /error: no bridge "prices"/)
    assert.equal((await cli(['bridges', 'list'], env)).stdout, 'no bridges')
  })

  it('formats tables and exact JSON', () => {
    assert.equal(
      table([
        ['A', 'BB'],
        ['ccc', 'd'],
      ]),
      'A    BB\nccc  d',
    )
    assert.equal(prettyJson({ n: 2n ** 70n }), `{\n  "n": ${2n ** 70n}\n}`)
  })
})
