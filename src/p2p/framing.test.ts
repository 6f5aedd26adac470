import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { P2pFrameError } from './errors.ts'
import { encodeFrame, FrameDecoder } from './framing.ts'

describe('framing', () => {
  test('frames come back whatever the chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 20 }),
        (bodies, cuts) => {
          const stream = Buffer.concat(bodies.map(encodeFrame))
          const decoder = new FrameDecoder(1024)
          const out: Uint8Array[] = []
          let at = 0
          for (let i = 0; at < stream.length; i++) {
            const n = cuts[i % cuts.length]!
            out.push(...decoder.push(stream.subarray(at, at + n)))
            at += n
          }
          assert.deepEqual(
            out.map((b) => Buffer.from(b).toString('hex')),
            bodies.map((b) => Buffer.from(b).toString('hex')),
          )
          assert.equal(decoder.buffered, 0)
        },
      ),
    )
  })

  test('accepts a list-like chunk', () => {
    const frame = encodeFrame(new Uint8Array([1, 2, 3]))
    const frames = new FrameDecoder().push({ subarray: () => frame })
    assert.deepEqual(frames, [new Uint8Array([1, 2, 3])])
  })

  test('refuses an announced length over the limit before reading it', () => {
    const decoder = new FrameDecoder(100)
    const header = new Uint8Array(4)
    new DataView(header.buffer).setUint32(0, 101)
    assert.throws(
      () => decoder.push(header),
      (err: unknown) => {
        assert.ok(err instanceof P2pFrameError)
        assert.match(err.details ?? '', /101 bytes announced, at most 100/)
        return true
      },
    )
    assert.doesNotThrow(() => new FrameDecoder(100).push(encodeFrame(new Uint8Array(100))))
  })

  test('refuses an empty frame', () => {
    assert.throws(() => new FrameDecoder().push(new Uint8Array(4)), /Empty frame/)
  })
})
