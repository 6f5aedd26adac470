import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { JobSpecError, parseJobSpec } from './job-spec.ts'
import { TASKS } from './tasks/index.ts'

const fixture = readFileSync(
  join(import.meta.dirname, '../../test/fixtures/get-uint256.toml'),
  'utf8',
)

const issuesOf = (text: string) => {
  try {
    parseJobSpec(text, TASKS)
  } catch (err) {
    assert.ok(err instanceof JobSpecError, String(err))
    return err.issues.map((i) => `${i.line}:${i.column} ${i.message}`)
  }
  assert.fail('the spec was accepted')
}

const minimal = (extra: string, source = 'a [type=memo value="1"]') =>
  `type = "directrequest"\nschemaVersion = 1\ncontractAddress = "0x613a38AC1659769640aaE063C651F48E0250454C"\n${extra}\nobservationSource = """\n${source}\n"""\n`

describe('parseJobSpec', () => {
  it('parses the published directrequest spec', () => {
    const job = parseJobSpec(fixture, TASKS)
    assert.equal(job.spec.type, 'directrequest')
    assert.equal(job.spec.name, 'Get > Uint256')
    assert.equal(job.spec.contractAddress, '0x613a38AC1659769640aaE063C651F48E0250454C')
    assert.equal(job.spec.evmChainID, 31337n)
    assert.equal(job.spec.minContractPaymentLinkJuels, 0n)
    assert.deepEqual(
      job.pipeline.tasks.map((t) => t.id),
      [
        'decode_log',
        'decode_cbor',
        'fetch',
        'parse',
        'multiply',
        'encode_data',
        'encode_tx',
        'submit_tx',
      ],
    )
    assert.deepEqual(job.warnings, [])
    assert.match(job.hash, /^[0-9a-f]{64}$/)
  })

  it('hashes the content, not the formatting', () => {
    const a = parseJobSpec(
      minimal(
        'name = "x"\nrequesters = ["0x613a38ac1659769640aae063c651f48e0250454c"]',
        'a [type=memo value="1"]\nb [type=memo value="2"]\na -> b',
      ),
      TASKS,
    )
    const b = parseJobSpec(
      `# comment\nobservationSource = """digraph { b [value="2" type="memo"]; a [type="memo", value="1"]; a -> b }"""\nrequesters = [ "0x613a38AC1659769640aaE063C651F48E0250454C" ]\nname="x"\ncontractAddress = "0x613a38ac1659769640aae063c651f48e0250454c"\nschemaVersion = 1\ntype = "directrequest"\n`,
      TASKS,
    )
    assert.equal(a.hash, b.hash)
    const c = parseJobSpec(minimal('name = "y"'), TASKS)
    const d = parseJobSpec(minimal('name = "y"', 'a [type=memo value="2"]'), TASKS)
    assert.notEqual(c.hash, d.hash)
    assert.notEqual(a.hash, c.hash)
  })

  it('names every bad field', () => {
    assert.deepEqual(
      issuesOf(
        minimal(
          'externalJobID = "not-a-uuid"\nmaxTaskDuration = "soon"\nminIncomingConfirmations = -1\nrequesters = ["0x12"]\ncolour = "blue"',
        ),
      ),
      [
        '4:1 "externalJobID": must be a UUID',
        '5:1 "maxTaskDuration": must be a duration like 500ms, 10s or 1m30s',
        '6:1 "minIncomingConfirmations": Too small: expected number to be >=0',
        '7:1 "requesters.0": must be an address (0x + 40 hex digits)',
        '8:1 unknown key(s) "colour" for a directrequest job',
      ],
    )
    assert.deepEqual(issuesOf('type = "cron"\n'), [
      '1:1 unknown job type "cron" (one of: directrequest, commitreveal, offchainaggregation, bidder)',
    ])
    assert.deepEqual(issuesOf('name = "x"\n'), [
      '1:1 "type" is missing (one of: directrequest, commitreveal, offchainaggregation, bidder)',
    ])
    assert.match(
      issuesOf(minimal('').replace('schemaVersion = 1', 'schemaVersion = 2'))[0]!,
      /schemaVersion.*must be 1/,
    )
    assert.match(
      issuesOf(minimal('').replace(/contractAddress = .*\n/, ''))[0]!,
      /"contractAddress"/,
    )
  })

  it('reports TOML errors and pipeline errors at their line in the file', () => {
    assert.deepEqual(issuesOf('type = "directrequest"\nname = \n'), [
      '2:8 invalid TOML: Invalid TOML document: invalid value',
    ])
    // The observationSource's first line is line 6 of `minimal`.
    assert.deepEqual(
      issuesOf(minimal('', 'a [type=memo value="1"]\nb [type=frobnicate]\na -> c')),
      ['8:6 edge refers to task c, which is not declared'],
    )
    assert.deepEqual(issuesOf(minimal('', 'a [type=memo value="1"]\nb [type=frobnicate]')), [
      '7:9 task b has unknown type "frobnicate"',
    ])
  })

  it('collects schema and pipeline errors together', () => {
    const issues = issuesOf(minimal('gasLimit = "lots"', 'a [type=nope]'))
    assert.equal(issues.length, 2)
  })

  it('never crashes on arbitrary input (fast-check)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        try {
          parseJobSpec(text, TASKS)
        } catch (err) {
          assert.ok(err instanceof JobSpecError, String(err))
          for (const i of err.issues)
            assert.ok(i.line >= 1 && i.column >= 1, 'every error carries a position')
        }
      }),
      { numRuns: 1000 },
    )
    const lines = fc.constantFrom(
      'type = "directrequest"',
      'schemaVersion = 1',
      'contractAddress = "0x613a38AC1659769640aaE063C651F48E0250454C"',
      'observationSource = "a [type=memo value=1]"',
      'observationSource = """a -> b"""',
      'observationSource = "a [type=http url=\\"$(x)\\"]"',
      'name = 5',
      '[table]',
      'x = [1, "a"]',
      '"',
    )
    fc.assert(
      fc.property(fc.array(lines, { maxLength: 8 }), (ls) => {
        try {
          parseJobSpec(ls.join('\n'), TASKS)
        } catch (err) {
          assert.ok(err instanceof JobSpecError, String(err))
          for (const i of (err as JobSpecError).issues) {
            assert.ok(i.message.length > 0)
            assert.ok(i.line >= 1 && i.column >= 1, 'every error carries a position')
          }
        }
      }),
      { numRuns: 1000 },
    )
  })

  describe('commitreveal', () => {
    const fixtureOf = (name: string) =>
      readFileSync(join(import.meta.dirname, `../../test/fixtures/${name}`), 'utf8')
    const cr = (extra: string, source = 'a [type=memo value="1"]') =>
      `type = "commitreveal"\nschemaVersion = 1\ncontractAddress = "0x613a38AC1659769640aaE063C651F48E0250454C"\n${extra}\nobservationSource = """\n${source}\n"""\n`

    it('parses the example request and feed specs', () => {
      const request = parseJobSpec(fixtureOf('commitreveal-request.toml'), TASKS)
      assert.equal(request.spec.type, 'commitreveal')
      assert.ok(request.spec.type === 'commitreveal' && request.spec.feed === false)
      assert.equal(request.spec.minIncomingConfirmations, 0)
      assert.deepEqual(request.warnings, [])
      const feed = parseJobSpec(fixtureOf('commitreveal-feed.toml'), TASKS)
      assert.ok(feed.spec.type === 'commitreveal')
      assert.equal(feed.spec.feed, true)
      assert.equal(feed.spec.deviationThreshold, '0.5')
      assert.equal(feed.spec.heartbeat, '1h')
      assert.equal(feed.spec.pollPeriod, '10s')
      assert.deepEqual(
        feed.pipeline.terminals.map((t) => t.id),
        ['value'],
      )
    })

    it('reads thresholds exactly and hashes them canonically', () => {
      const a = parseJobSpec(cr('feed = true\ndeviationThreshold = 0.1'), TASKS)
      const b = parseJobSpec(cr('feed = true\ndeviationThreshold = "0.10"'), TASKS)
      assert.ok(a.spec.type === 'commitreveal' && b.spec.type === 'commitreveal')
      assert.equal(a.spec.deviationThreshold, '0.1')
      assert.equal(a.hash, b.hash)
    })

    it('names bad feed settings and settings without feed = true', () => {
      assert.deepEqual(
        issuesOf(
          cr(
            'feed = true\ndeviationThreshold = -1\nheartbeat = "500ms"\npollPeriod = "soon"\nrequesters = []',
          ),
        ),
        [
          '5:1 "deviationThreshold": must be a percentage of at least 0, e.g. 0.5',
          '6:1 "heartbeat": must be at least 1s and at most 24h',
          '7:1 "pollPeriod": must be a duration like 500ms, 10s or 1m30s',
          '8:1 unknown key(s) "requesters" for a commitreveal job',
        ],
      )
      assert.deepEqual(issuesOf(cr('heartbeat = "1m"\npollPeriod = "1s"')), [
        '4:1 "heartbeat": is only used with feed = true',
        '5:1 "pollPeriod": is only used with feed = true',
      ])
    })

    it('wants one final task and no ethtx, reported at their place', () => {
      // The observationSource starts on line 6.
      assert.deepEqual(issuesOf(cr('', 'a [type=memo value="1"]\nb [type=memo value="2"]')), [
        '7:1 a commitreveal pipeline must end in one task, whose value is revealed; it ends in 2: a, b',
      ])
      assert.deepEqual(
        issuesOf(
          cr(
            '',
            'a [type=memo value="1"]\nt [type=ethtx to="0x613a38AC1659769640aaE063C651F48E0250454C" data="0x"]\na -> t',
          ),
        ),
        ['7:1 task t: a commitreveal job sends its own commit and reveal; ethtx is not allowed'],
      )
    })
  })
  describe('offchainaggregation', () => {
    const fixture = readFileSync(
      join(import.meta.dirname, '../../test/fixtures/offchainaggregation-feed.toml'),
      'utf8',
    )
    const ORACLES = [
      '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
      '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC',
      '0x90F79bf6EB2c4f870365E785982E1f101E93b906',
      '0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65',
    ]
    const oca = (extra: string, oracles = ORACLES, source = 'a [type=memo value="1"]') =>
      `type = "offchainaggregation"\nschemaVersion = 1\ncontractAddress = "0x613a38AC1659769640aaE063C651F48E0250454C"\nregistryAddress = "0x5FbDB2315678afecb367f032d93F642f64180aa3"\noracles = [${oracles.map((o) => `"${o}"`).join(', ')}]\n${extra}\nobservationSource = """\n${source}\n"""\n`

    it('parses the example feed spec', () => {
      const job = parseJobSpec(fixture, TASKS)
      assert.ok(job.spec.type === 'offchainaggregation')
      assert.equal(job.spec.f, 1)
      assert.equal(job.spec.configVersion, 1)
      assert.deepEqual(job.spec.oracles, ORACLES)
      assert.equal(job.spec.deviationThreshold, '0.5')
      assert.deepEqual(job.warnings, [])
    })

    it('names a committee that cannot tolerate f, duplicates and a foreign transmitter', () => {
      assert.deepEqual(issuesOf(oca('f = 2')), [
        '6:1 "f": 4 oracles tolerate at most f = 1 (n ≥ 3f+1)',
      ])
      assert.deepEqual(issuesOf(oca('f = 1', [...ORACLES.slice(0, 3), ORACLES[0]!])), [
        `5:1 "oracles.3": ${ORACLES[0]} is listed twice`,
      ])
      assert.deepEqual(
        issuesOf(oca('f = 1\ntransmitterAddress = "0x0000000000000000000000000000000000000001"')),
        ['7:1 "transmitterAddress": must be one of the oracles (or of the previous oracles)'],
      )
      assert.deepEqual(issuesOf(oca('f = 1', ORACLES.slice(0, 3))), [
        '5:1 "oracles": must list at least 4 oracles (n ≥ 3f+1, f ≥ 1)',
      ])
      assert.deepEqual(issuesOf(oca('f = 1\np2pListen = "127.0.0.1:6690"')), [
        '7:1 "p2pListen": must be a multiaddr like /ip4/127.0.0.1/tcp/6690',
      ])
    })

    it('a committee change names the whole previous configuration', () => {
      assert.deepEqual(issuesOf(oca('f = 1\npreviousF = 1')), [
        '1:1 "previousContractAddress": is needed with previousF (a committee change names the whole previous configuration)',
        '1:1 "previousOracles": is needed with previousF (a committee change names the whole previous configuration)',
        '1:1 "previousConfigVersion": is needed with previousF (a committee change names the whole previous configuration)',
      ])
      const ok = parseJobSpec(
        oca(
          `f = 1\npreviousContractAddress = "0x8464135c8F25Da09e49BC8782676a84730C318bC"\npreviousOracles = [${ORACLES.map((o) => `"${o}"`).join(', ')}]\npreviousF = 1\npreviousConfigVersion = 1`,
        ),
        TASKS,
      )
      assert.ok(ok.spec.type === 'offchainaggregation')
      assert.deepEqual(ok.spec.previousOracles, ORACLES)
    })

    it('wants one final task and no ethtx', () => {
      assert.deepEqual(
        issuesOf(
          oca(
            'f = 1',
            ORACLES,
            'a [type=memo value="1"]\nt [type=ethtx to="0x613a38AC1659769640aaE063C651F48E0250454C" data="0x"]\na -> t',
          ),
        ),
        ['9:1 task t: a offchainaggregation job sends its own transmission; ethtx is not allowed'],
      )
    })
  })
})
