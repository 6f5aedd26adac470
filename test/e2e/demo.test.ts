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
  const observation = /observation .* -> ([\d.]+) x (\d+) = (\d+)/.exec(stdout)
  const answer = /on-chain answer (\d+)/.exec(stdout)
  assert.ok(observation, stdout)
  assert.ok(answer, stdout)
  const [, price, times, value] = observation
  // The simulated exchange starts at 3000 and moves at most 0.2 % per request.
  assert.ok(Number(price) > 2900 && Number(price) < 3100, `price ${price}`)
  assert.equal(BigInt(value!), truncate(multiply(parseDecimal(price), parseDecimal(times))))
  assert.equal(answer[1], value, 'the consumer stored the value the oracle fetched')
  assert.match(stdout, /SIMULATED/)
})
