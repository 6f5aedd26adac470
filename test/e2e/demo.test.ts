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
  const answer =
    /on-chain answer (\d+) .*the price adapter said ([\d.]+) from (\d+) of 5 sources/.exec(stdout)
  assert.ok(answer, stdout)
  const [, value, price, used] = answer
  // The simulated exchanges start at 3000 and move at most 0.2 % per request; exchange 5 is
  // down, so the median is over the other 4.
  assert.ok(Number(price) > 2900 && Number(price) < 3100, `price ${price}`)
  assert.equal(used, '4')
  // The median × 100, rounded to a whole number (half away from zero).
  const scaled = multiply(parseDecimal(price!), parseDecimal(100))
  const whole = truncate(scaled)
  assert.ok(BigInt(value!) === whole || BigInt(value!) === whole + 1n, `${value} vs ${scaled}`)
  assert.ok(Math.abs(Number(value) - Number(price) * 100) <= 0.5 + 1e-6, `${value} vs ${price}`)
  for (const step of [
    'node            started',
    'bridge          price ->',
    'job             get-uint256 (fetch through bridge "price") created through the API',
    'queued',
    'fulfilled       in block',
  ]) {
    assert.ok(stdout.includes(step), `missing step: ${step}`)
  }
  assert.match(stdout, /SIMULATED/)
})
