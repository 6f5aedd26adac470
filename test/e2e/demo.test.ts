import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { it } from 'node:test'
import { promisify } from 'node:util'
import { multiply, parseDecimal, truncate } from '../../src/pipeline/decimal.ts'

const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts')

it('the main job (`npm start` = `orakel demo`) puts a fetched price on chain', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [MAIN, 'demo'], {
    timeout: 60_000,
  })
  const answer = /on-chain answer (\d+) .*the source said ([\d.]+)\)/.exec(stdout)
  assert.ok(answer, stdout)
  const [, value, price] = answer
  // The simulated exchange starts at 3000 and moves at most 0.2 % per request.
  assert.ok(Number(price) > 2900 && Number(price) < 3100, `price ${price}`)
  assert.equal(BigInt(value!), truncate(multiply(parseDecimal(price), parseDecimal(100))))
  for (const step of [
    'node            started',
    'job             get-uint256 created through the API',
    'queued',
    'fulfilled       in block',
  ]) {
    assert.ok(stdout.includes(step), `missing step: ${step}`)
  }
  assert.match(stdout, /SIMULATED/)
})
