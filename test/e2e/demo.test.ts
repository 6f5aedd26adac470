import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { it } from 'node:test'
import { promisify } from 'node:util'
import { multiply, parseDecimal, truncate } from '../../src/pipeline/decimal.ts'

const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts')

it('the main job (`npm start` = `orakel demo`) puts a fetched price on chain', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [MAIN, 'demo'], {
    timeout: 240_000,
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

  // Part two: the four-node committee answers a request through commit–reveal and the feed
  // updates twice; every round is printed.
  assert.match(stdout, /committee +CommitRevealAggregator 0x[0-9a-fA-F]{40}: 4 nodes, f = 1/)
  const requested =
    /request +PriceConsumer 0x[0-9a-fA-F]{40} asks the committee \(round (\d+)/.exec(stdout)
  assert.ok(requested, stdout)
  const round = requested[1]
  for (const member of [1, 2, 3, 4]) {
    assert.match(stdout, new RegExp(`round ${round} +node ${member} committed`))
  }
  const reveals = [
    ...stdout.matchAll(new RegExp(`round ${round} +node \\d revealed (\\d+)`, 'g')),
  ].map((m) => BigInt(m[1] as string))
  assert.ok(reveals.length >= 3, stdout)
  const committee = /answered +PriceConsumer\.answers\(0x[0-9a-f]{64}\) = (\d+)/.exec(stdout)
  assert.ok(committee, stdout)
  const committeeAnswer = BigInt(committee[1] as string)
  // The median of the reveals before finalisation lies within the revealed values.
  const sorted = reveals.sort((a, b) => (a < b ? -1 : 1))
  assert.ok(
    committeeAnswer >= (sorted[0] as bigint) && committeeAnswer <= (sorted.at(-1) as bigint),
    `${committeeAnswer}`,
  )
  assert.ok(Number(committeeAnswer) > 290_000 && Number(committeeAnswer) < 310_000)
  assert.match(stdout, new RegExp(`round ${round} +finalised on chain: answer ${committeeAnswer}`))
  const feeds = [...stdout.matchAll(/feed +latestRoundData: round (\d+), answer ([\d.]+) USD/g)]
  assert.equal(feeds.length, 2, stdout)
  assert.ok(Number(feeds[1]?.[1]) > Number(feeds[0]?.[1]), 'the feed round id moved')
  for (const f of feeds) assert.ok(Number(f[2]) > 2900 && Number(f[2]) < 3100, `feed ${f[2]}`)

  // Part three: the same nodes as an off-chain aggregation committee, one transmit per round.
  assert.match(
    stdout,
    /oca +4 nodes made a group key by DKG over libp2p in \d+ ms; ThresholdAggregator 0x[0-9a-fA-F]{40}/,
  )
  const oca = [
    ...stdout.matchAll(
      /oca round (\d+) +answer ([\d.]+) USD: one transmit, one threshold signature, (\d+) gas/g,
    ),
  ]
  // Three rounds on chain, in order (a round that timed out on a busy machine leaves a gap: its
  // number is never reused).
  assert.equal(oca.length, 3, stdout)
  const ocaRounds = oca.map((m) => Number(m[1]))
  assert.ok(
    ocaRounds[0]! >= 1 && ocaRounds[0]! < ocaRounds[1]! && ocaRounds[1]! < ocaRounds[2]!,
    `${ocaRounds}`,
  )
  for (const m of oca) assert.ok(Number(m[2]) > 2900 && Number(m[2]) < 3100, `oca answer ${m[2]}`)

  // Part four: order matching. Six nodes; node 6 asks more than the SLA pays and does not bid,
  // the other five bid, the market selects the four cheapest (every score is 0 on a new spec).
  assert.match(stdout, /market +OrderMatching 0x[0-9a-fA-F]{40} with 2 pool/)
  const posted = /SLA (\d+) +purchaser 0x[0-9a-fA-F]{40} posts: .*up to ([\d.]+) LINK each/.exec(
    stdout,
  )
  assert.ok(posted, stdout)
  const [, sla, pays] = posted
  assert.match(
    stdout,
    new RegExp(`node 6 +does not bid on SLA ${sla}: payment per oracle \\d+ is below the price`),
  )
  const bids = new Map(
    [
      ...stdout.matchAll(new RegExp(`SLA ${sla} +bid \\d: node (\\d) asks ([\\d.]+) LINK`, 'g')),
    ].map((m) => [Number(m[1]), Number(m[2])]),
  )
  assert.deepEqual([...bids.keys()].sort(), [1, 2, 3, 4, 5])
  for (const ask of bids.values()) assert.ok(ask <= Number(pays), `ask ${ask}`)
  const finalized = new RegExp(
    `SLA ${sla} +finalized: committee (.*), by reputation then price; clearing price ([\\d.]+) LINK each; round (\\d+)`,
  ).exec(stdout)
  assert.ok(finalized, stdout)
  const selected = [...(finalized[1] as string).matchAll(/node (\d) \(score (\d+)\)/g)].map((m) =>
    Number(m[1]),
  )
  assert.equal(selected.length, 4)
  const cheapest = [...bids.entries()].sort((a, b) => a[1] - b[1]).map(([n]) => n)
  assert.deepEqual([...selected].sort(), cheapest.slice(0, 4).sort(), 'the four cheapest bids')
  const clearing = Number(finalized[2])
  assert.equal(clearing, Math.max(...selected.map((n) => bids.get(n) as number)))
  const [notSelected] = cheapest.slice(4)
  assert.match(
    stdout,
    new RegExp(`SLA ${sla} +2 LINK deposit returned to node ${notSelected} \\(not selected\\)`),
  )
  // Node 5 is selected but its adapter sees only the exchange that is down: it never answers.
  assert.ok(selected.includes(5))
  const slaRound = finalized[3]
  assert.match(stdout, new RegExp(`SLA round ${slaRound} +node 5 cannot answer: `))
  const answering = selected.filter((n) => n !== 5)
  for (const n of answering) {
    assert.match(stdout, new RegExp(`SLA round ${slaRound} +node ${n} committed`))
  }
  const slaReveals = [
    ...stdout.matchAll(new RegExp(`SLA round ${slaRound} +node (\\d) revealed (\\d+)`, 'g')),
  ]
  assert.deepEqual(slaReveals.map((m) => Number(m[1])).sort(), answering.sort())
  const revealed = slaReveals.map((m) => BigInt(m[2] as string)).sort((a, b) => (a < b ? -1 : 1))
  const slaAnswer = new RegExp(`SLA ${sla} +answered: (\\d+) `).exec(stdout)
  assert.ok(slaAnswer, stdout)
  const answered = BigInt(slaAnswer[1] as string)
  // The median of three reveals is the middle one; each reveal is a median of live exchanges.
  assert.equal(answered, revealed[1])
  assert.ok(Number(answered) > 290_000 && Number(answered) < 310_000, `${answered}`)
  for (const n of answering) {
    assert.match(
      stdout,
      new RegExp(`SLA ${sla} +2 LINK deposit returned to node ${n} \\(it answered\\)`),
    )
  }
  assert.match(
    stdout,
    new RegExp(`SLA ${sla} +2 LINK deposit of node 5 forfeited to the purchaser`),
  )
  assert.doesNotMatch(stdout, /deposit of node [1-46] forfeited/)
  assert.match(stdout, new RegExp(`SLA ${sla} +settled: 2 LINK of deposits`))

  // The reputation table: oracle, assigned, completed, accepted, missed, …, penalties, score.
  const rows = new Map(
    [...stdout.matchAll(/^ +node (\d) +0x[0-9a-fA-F]{40} +(.*)$/gm)].map((m) => [
      Number(m[1]),
      (m[2] as string).trim().split(/ +/),
    ]),
  )
  assert.deepEqual([...rows.keys()].sort(), [1, 2, 3, 4, 5, 6])
  for (const n of answering) {
    assert.deepEqual(rows.get(n)?.slice(0, 4), ['1', '1', '1', '0'], `node ${n}`)
    assert.equal(rows.get(n)?.[7], '0', `node ${n} penalties`)
    assert.equal(rows.get(n)?.[8], '2500', `node ${n} score: 1 accepted / (1 + 3)`)
  }
  assert.deepEqual(rows.get(5)?.slice(0, 4), ['1', '0', '0', '1'], 'node 5 missed')
  assert.equal(rows.get(5)?.[7], '2', 'node 5 paid its 2 LINK deposit')
  assert.equal(rows.get(5)?.[8], '0')
  for (const n of [4, 6]) assert.deepEqual(rows.get(n)?.slice(0, 4), ['0', '0', '0', '0'])
})
