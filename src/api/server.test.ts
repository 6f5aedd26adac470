import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type Common, createLogger, createMetrics } from '../common.ts'
import { BaseError } from '../errors.ts'
import { createCredentialRepository } from '../store/credentials.ts'
import type { Db } from '../store/db.ts'
import type { Job } from '../store/jobs.ts'
import { createRunRepository } from '../store/runs.ts'
import { openTestDatabase } from '../store/testing.ts'
import { type ApiServer, createApiServer } from './server.ts'

const fixture = readFileSync(
  join(import.meta.dirname, '../../test/fixtures/get-uint256.toml'),
  'utf8',
)
const minimal = (name: string) =>
  `type = "directrequest"\nschemaVersion = 1\nname = "${name}"\ncontractAddress = "0x613a38ac1659769640aae063c651f48e0250454c"\nobservationSource = """\na [type=memo value="1"]\n"""\n`

// biome-ignore lint/suspicious/noExplicitAny: test replies are read field by field
type Reply = { status: number; headers: Headers; text: string; json: any }

describe(`REST API (${process.env.DATABASE_URL ? 'Postgres server' : 'PGlite'})`, () => {
  let db: Db
  let dir: string
  let common: Common
  let api: ApiServer
  let token: string
  const created: Job[] = []
  const deleted: Job[] = []
  let failStart = false

  before(async () => {
    db = await openTestDatabase()
    dir = await mkdtemp(join(tmpdir(), 'orakel-api-'))
    common = { config: {}, logger: createLogger({ silent: true }), metrics: createMetrics(), db }
    token = await createCredentialRepository(db).ensureApiToken(dir)
    api = await createApiServer(common, {
      host: '127.0.0.1',
      port: 0,
      adminPassword: 'correct horse battery staple',
      loginRateLimitPerMinute: 100,
      sessionTtlHours: 1,
      onJobCreated: (job) => {
        if (failStart) throw new BaseError('no chain client for chain 31337')
        created.push(job)
      },
      onJobDeleted: (job) => {
        deleted.push(job)
      },
      checkJob: async (parsed) =>
        parsed.spec.name === 'misfit'
          ? [{ task: 'a', path: 'data.pair', message: 'must be string' }]
          : [],
      resume: async (runId, token, body) => ({
        status: 200,
        body: { runId, token, body: body as object },
      }),
      status: async () => ({ chains: [{ id: 31337n, head: 12 }], version: '0.1.0' }),
    })
  })
  after(async () => {
    await api?.close()
    await db?.close()
    await rm(dir, { recursive: true, force: true })
  })

  const call = async (
    method: string,
    path: string,
    init: { body?: string; type?: string; auth?: string | null } = {},
  ): Promise<Reply> => {
    const headers: Record<string, string> = {}
    const auth = init.auth === undefined ? token : init.auth
    if (auth !== null) headers.authorization = `Bearer ${auth}`
    if (init.type) headers['content-type'] = init.type
    const res = await fetch(`${api.url}${path}`, { method, headers, body: init.body })
    const text = await res.text()
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {}
    return { status: res.status, headers: res.headers, text, json }
  }
  const post = (path: string, body: unknown, auth?: string | null) =>
    call('POST', path, { body: JSON.stringify(body), type: 'application/json', auth })

  it('answers /health without credentials', async () => {
    const res = await call('GET', '/health', { auth: null })
    assert.equal(res.status, 200)
    assert.deepEqual(res.json, { status: 'ok' })
  })

  it('requires a valid bearer credential everywhere else', async () => {
    const routes: [string, string][] = [
      ['GET', '/v2/jobs'],
      ['POST', '/v2/jobs'],
      ['GET', '/v2/jobs/1'],
      ['DELETE', '/v2/jobs/1'],
      ['GET', '/v2/jobs/1/runs'],
      ['GET', `/v2/runs/${randomUUID()}`],
      ['GET', '/v2/bridges'],
      ['POST', '/v2/bridges'],
      ['DELETE', '/v2/bridges/x'],
      ['GET', '/v2/keys/eth'],
      ['GET', '/v2/status'],
      ['DELETE', '/v2/sessions'],
      ['GET', '/metrics'],
      ['GET', '/no/such/route'],
    ]
    for (const [method, path] of routes) {
      const none = await call(method, path, { auth: null })
      assert.equal(none.status, 401, `${method} ${path} without a token`)
      assert.equal(none.headers.get('www-authenticate'), 'Bearer')
      assert.match(none.json.error.message, /authentication required/)
      const wrong = await call(method, path, { auth: 'A'.repeat(43) })
      assert.equal(wrong.status, 401, `${method} ${path} with a wrong token`)
      assert.match(wrong.json.error.message, /invalid or expired/)
    }
    const basic = await fetch(`${api.url}/v2/jobs`, {
      headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` },
    })
    assert.equal(basic.status, 401)
    assert.equal((await call('GET', '/v2/jobs')).status, 200)
    const lower = await fetch(`${api.url}/v2/jobs`, {
      headers: { authorization: `bearer ${token}` },
    })
    assert.equal(lower.status, 200)
  })

  it('logs in with the admin password and logs out again', async () => {
    const bad = await post('/v2/sessions', { password: 'wrong' }, null)
    assert.equal(bad.status, 401)
    assert.equal(bad.json.error.message, 'wrong password')
    const ok = await post('/v2/sessions', { password: 'correct horse battery staple' }, null)
    assert.equal(ok.status, 201)
    const session = ok.json.token as string
    assert.match(session, /^[A-Za-z0-9_-]{43}$/)
    assert.ok(Date.parse(ok.json.expiresAt) > Date.now())
    assert.equal((await call('GET', '/v2/jobs', { auth: session })).status, 200)
    // The API token is not a session.
    assert.equal((await call('DELETE', '/v2/sessions')).status, 400)
    const out = await call('DELETE', '/v2/sessions', { auth: session })
    assert.equal(out.status, 200)
    assert.equal((await call('GET', '/v2/jobs', { auth: session })).status, 401)
    assert.equal((await call('GET', '/v2/jobs')).status, 200, 'the API token still works')
  })

  it('creates, lists, shows, runs and deletes jobs', async () => {
    const res = await call('POST', '/v2/jobs', { body: fixture, type: 'application/toml' })
    assert.equal(res.status, 201, res.text)
    const job = res.json.job
    assert.equal(job.externalJobID, '0eec7e1d-d0d2-476c-a1a8-72dfb6633f46')
    assert.equal(job.name, 'Get > Uint256')
    assert.equal(job.type, 'directrequest')
    assert.equal(job.evmChainID, '31337')
    assert.equal(job.specToml, fixture)
    assert.match(job.hash, /^[0-9a-f]{64}$/)
    assert.deepEqual(res.json.warnings, [])
    assert.equal(created.at(-1)?.externalJobID, job.externalJobID, 'onJobCreated was called')

    const dup = await call('POST', '/v2/jobs', { body: fixture, type: 'text/plain' })
    assert.equal(dup.status, 409)
    assert.match(dup.json.error.message, /already exists/)

    const viaJson = await post('/v2/jobs', { toml: minimal('json') })
    assert.equal(viaJson.status, 201, viaJson.text)
    const plain = await call('POST', '/v2/jobs', {
      body: minimal('plain'),
      type: 'text/plain; charset=utf-8',
    })
    assert.equal(plain.status, 201, plain.text)
    assert.equal(
      (await call('POST', '/v2/jobs', { body: minimal('x'), type: 'application/xml' })).status,
      415,
    )

    const list = await call('GET', '/v2/jobs')
    assert.deepEqual(
      list.json.jobs.map((j: { name: string }) => j.name),
      ['Get > Uint256', 'json', 'plain'],
    )
    const byId = await call('GET', `/v2/jobs/${job.id}`)
    assert.equal(byId.status, 200)
    assert.deepEqual(byId.json.job, job)
    assert.deepEqual((await call('GET', `/v2/jobs/${job.externalJobID}`)).json.job, job)
    assert.equal((await call('GET', '/v2/jobs/999999')).status, 404)
    assert.equal((await call('GET', '/v2/jobs/nonsense')).status, 404)

    // Runs, with exact numbers.
    const runs = createRunRepository(db)
    const ids: string[] = []
    for (let i = 0; i < 3; i++) {
      const runId = randomUUID()
      ids.push(runId)
      await runs.create({ jobId: BigInt(job.id), runId, inputs: { i } })
    }
    const t = new Date()
    await runs.store(ids[2]!).taskFinished({
      runId: ids[2]!,
      taskId: 'a',
      type: 'memo',
      index: 0,
      value: 2n ** 100n,
      attempts: 1,
      startedAt: t,
      finishedAt: t,
    })
    const page = await call('GET', `/v2/jobs/${job.id}/runs?limit=2&offset=0`)
    assert.equal(page.status, 200)
    assert.equal(page.json.total, 3)
    assert.deepEqual(
      page.json.runs.map((r: { runId: string }) => r.runId),
      [ids[2], ids[1]],
    )
    const rest = await call('GET', `/v2/jobs/${job.id}/runs?limit=2&offset=2`)
    assert.deepEqual(
      rest.json.runs.map((r: { runId: string }) => r.runId),
      [ids[0]],
    )
    assert.equal((await call('GET', `/v2/jobs/${job.id}/runs?limit=-1`)).status, 400)
    assert.equal((await call('GET', `/v2/jobs/${job.id}/runs?limit=5000`)).status, 400)
    const run = await call('GET', `/v2/runs/${ids[2]}`)
    assert.equal(run.status, 200)
    assert.equal(run.json.run.state, 'running')
    assert.equal(run.json.run.jobId, job.id)
    assert.equal(run.json.run.tasks.length, 1)
    assert.equal(run.json.run.tasks[0].taskId, 'a')
    assert.ok(run.text.includes(`"value":${2n ** 100n}`), 'exact big number in the JSON')
    assert.equal((await call('GET', `/v2/runs/${randomUUID()}`)).status, 404)
    assert.equal((await call('GET', '/v2/runs/not-a-uuid')).status, 404)

    const del = await call('DELETE', `/v2/jobs/${job.id}`)
    assert.equal(del.status, 200)
    assert.equal(deleted.at(-1)?.id, BigInt(job.id), 'onJobDeleted was called')
    assert.equal((await call('DELETE', `/v2/jobs/${job.id}`)).status, 404)
    assert.equal((await call('GET', `/v2/jobs/${job.id}`)).status, 404)
    assert.equal((await call('GET', '/v2/jobs')).json.jobs.length, 2)
    // Its runs stay readable.
    assert.equal((await call('GET', `/v2/runs/${ids[0]}`)).status, 200)
  })

  it('removes a job again when onJobCreated fails', async () => {
    failStart = true
    try {
      const res = await call('POST', '/v2/jobs', { body: minimal('doomed'), type: 'text/plain' })
      assert.equal(res.status, 400)
      assert.match(res.json.error.message, /not started: no chain client/)
    } finally {
      failStart = false
    }
    const list = (await call('GET', '/v2/jobs')).json.jobs as { name: string }[]
    assert.ok(!list.some((j) => j.name === 'doomed'))
  })

  it('refuses with 422 a job its check finds problems in, storing nothing', async () => {
    const before = created.length
    const res = await call('POST', '/v2/jobs', { body: minimal('misfit'), type: 'text/plain' })
    assert.equal(res.status, 422)
    assert.match(res.json.error.message, /bridge tasks do not fit/)
    assert.deepEqual(res.json.error.details, [
      { task: 'a', path: 'data.pair', message: 'must be string' },
    ])
    assert.equal(created.length, before)
    assert.ok(
      !(await call('GET', '/v2/jobs')).json.jobs.some((j: { name: string }) => j.name === 'misfit'),
    )
  })

  it('hands PATCH /v2/resume to the node with the bearer token and the exact body', async () => {
    const body = '{"value": {"data": {"result": 123456789012345678901234567890}}, "error": null}'
    const res = await call('PATCH', '/v2/resume/abc', {
      body,
      type: 'application/json',
      auth: 'tok',
    })
    assert.equal(res.status, 200)
    assert.equal(res.json.runId, 'abc')
    assert.equal(res.json.token, 'tok')
    assert.match(res.text, /"result":123456789012345678901234567890/)
    const anonymous = await call('PATCH', '/v2/resume/abc', {
      body,
      type: 'application/json',
      auth: null,
    })
    assert.equal(anonymous.status, 401)
    const garbage = await call('PATCH', '/v2/resume/abc', {
      body: '{nope',
      type: 'application/json',
      auth: 'tok',
    })
    assert.equal(garbage.status, 400)
    const wrongType = await call('PATCH', '/v2/resume/abc', {
      body,
      type: 'text/plain',
      auth: 'tok',
    })
    assert.equal(wrongType.status, 415)
  })

  it('answers 422 with every issue and its position for an invalid spec', async () => {
    const bad = `type = "directrequest"\nschemaVersion = 2\ncontractAddress = "0x12"\nobservationSource = """\na [type=nosuchtask]\n"""\n`
    const res = await call('POST', '/v2/jobs', { body: bad, type: 'application/toml' })
    assert.equal(res.status, 422)
    assert.equal(res.json.error.message, 'invalid job spec')
    const issues = res.json.error.details as { line: number; column: number; message: string }[]
    assert.ok(issues.length >= 3, JSON.stringify(issues))
    const find = (re: RegExp) => issues.find((i) => re.test(i.message))
    assert.deepEqual(
      { line: find(/schemaVersion/)?.line, column: find(/schemaVersion/)?.column },
      { line: 2, column: 1 },
    )
    assert.equal(find(/contractAddress/)?.line, 3)
    assert.equal(find(/nosuchtask/)?.line, 5)
    const toml = await call('POST', '/v2/jobs', { body: 'type = = 1', type: 'text/plain' })
    assert.equal(toml.status, 422)
    assert.equal(toml.json.error.details[0].line, 1)
    const empty = await post('/v2/jobs', { toml: '' })
    assert.equal(empty.status, 400)
    const notJson = await call('POST', '/v2/jobs', { body: '{', type: 'application/json' })
    assert.equal(notJson.status, 400)
  })

  it('adds, lists and removes bridges; the list holds no secrets', async () => {
    const res = await post('/v2/bridges', {
      name: 'prices',
      url: 'https://ea.example/prices',
      confirmations: 1,
    })
    assert.equal(res.status, 201, res.text)
    assert.equal(res.json.bridge.name, 'prices')
    assert.match(res.json.outgoingToken, /^\S{32}$/)
    assert.match(res.json.incomingToken, /^\S{32}$/)
    const list = await call('GET', '/v2/bridges')
    assert.deepEqual(list.json.bridges, [res.json.bridge])
    assert.ok(!list.text.includes(res.json.incomingToken))
    assert.ok(!list.text.includes(res.json.outgoingToken))
    assert.equal(
      (await post('/v2/bridges', { name: 'prices', url: 'https://x.example' })).status,
      409,
    )
    const badName = await post('/v2/bridges', { name: 'bad name', url: 'https://x.example' })
    assert.equal(badName.status, 400)
    assert.match(badName.json.error.message, /invalid bridge name/)
    assert.equal((await post('/v2/bridges', { name: 'x', url: 'ftp://x.example' })).status, 400)
    assert.equal((await post('/v2/bridges', { name: 'x' })).status, 400)
    assert.equal(
      (
        await call('POST', '/v2/bridges', {
          body: 'name=x',
          type: 'application/x-www-form-urlencoded',
        })
      ).status,
      415,
    )
    assert.equal((await call('DELETE', '/v2/bridges/prices')).status, 200)
    assert.equal((await call('DELETE', '/v2/bridges/prices')).status, 404)
    assert.deepEqual((await call('GET', '/v2/bridges')).json.bridges, [])
  })

  it('lists key addresses only, never the keystore', async () => {
    await db.query('INSERT INTO eth_keys (address, keystore) VALUES ($1, $2::jsonb)', [
      '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
      JSON.stringify({ crypto: { ciphertext: 'secretciphertext' }, version: 3 }),
    ])
    const res = await call('GET', '/v2/keys/eth')
    assert.equal(res.status, 200)
    assert.deepEqual(
      res.json.keys.map((k: { address: string }) => k.address),
      ['0x70997970C51812dc3A010C7d01b50e0d17dc79C8'],
    )
    assert.ok(!res.text.includes('secretciphertext'))
  })

  it('returns the status hook result, bigint-safe', async () => {
    const res = await call('GET', '/v2/status')
    assert.equal(res.status, 200)
    assert.equal(res.text, '{"chains":[{"id":31337,"head":12}],"version":"0.1.0"}')
  })

  it('serves Prometheus metrics to authenticated clients', async () => {
    const res = await call('GET', '/metrics')
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/)
    assert.match(res.text, /# TYPE orakel_api_requests_total counter/)
    assert.match(
      res.text,
      /orakel_api_requests_total\{method="GET",route="\/v2\/jobs",status="200"\} \d+/,
    )
  })

  it('refuses bodies over the limit with 413 (declared or streamed)', async () => {
    const big = 'x'.repeat(1024 * 1024 + 1)
    const res = await call('POST', '/v2/jobs', { body: big, type: 'text/plain' })
    assert.equal(res.status, 413)
    assert.match(res.json.error.message, /larger than 1048576 bytes/)
    // Chunked, without content-length.
    const url = new URL(`${api.url}/v2/jobs`)
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        url,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
        },
        (r) => {
          r.resume()
          resolve(r.statusCode!)
        },
      )
      req.on('error', reject)
      for (let i = 0; i < 20; i++) req.write('y'.repeat(64 * 1024))
      req.end()
    })
    assert.equal(status, 413)
  })

  it('answers unknown routes with 404 JSON', async () => {
    const res = await call('GET', '/v2/nothing')
    assert.equal(res.status, 404)
    assert.match(res.json.error.message, /no route GET \/v2\/nothing/)
  })
})

describe('REST API login rate limit', () => {
  let db: Db
  let common: Common
  let api: ApiServer
  let clock = 1_000_000
  before(async () => {
    db = await openTestDatabase()
    common = { config: {}, logger: createLogger({ silent: true }), metrics: createMetrics(), db }
    api = await createApiServer(common, {
      host: '127.0.0.1',
      port: 0,
      adminPassword: 'pw',
      loginRateLimitPerMinute: 3,
      sessionTtlHours: 1,
      now: () => clock,
    })
  })
  after(async () => {
    await api?.close()
    await db?.close()
  })

  const login = (password: string) =>
    fetch(`${api.url}/v2/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ password }),
    })

  it('allows N failed logins a minute per client, then 429 with Retry-After', async () => {
    assert.equal((await login('pw')).status, 201, 'successes do not count')
    for (let i = 0; i < 3; i++) assert.equal((await login('nope')).status, 401)
    clock += 10_000
    const limited = await login('pw')
    assert.equal(limited.status, 429)
    assert.equal(limited.headers.get('retry-after'), '50')
    assert.match(
      ((await limited.json()) as { error: { message: string } }).error.message,
      /too many/,
    )
    clock += 50_001
    assert.equal((await login('pw')).status, 201, 'allowed again after the window')
  })

  it('refuses login when no admin password is configured', async () => {
    const other = await createApiServer(common, {
      host: '127.0.0.1',
      port: 0,
      loginRateLimitPerMinute: 3,
      sessionTtlHours: 1,
    })
    try {
      const res = await fetch(`${other.url}/v2/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"password":""}',
      })
      assert.equal(res.status, 403)
    } finally {
      await other.close()
    }
  })
})
