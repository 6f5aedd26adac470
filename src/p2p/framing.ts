/**
 * Length-prefixed framing for committee streams: each frame is a u32 big-endian length followed
 * by that many bytes (one envelope). A frame longer than the limit, or empty, is an error: the
 * reader drops the stream instead of buffering it.
 */
import { P2pFrameError } from './errors.ts'

/** Default largest frame body: 1 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024
const HEADER_BYTES = 4

export function encodeFrame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + body.length)
  new DataView(out.buffer).setUint32(0, body.length)
  out.set(body, HEADER_BYTES)
  return out
}

/** Anything with a contiguous view: a `Uint8Array`, or libp2p's `Uint8ArrayList`. */
export type Chunk = Uint8Array | { subarray(): Uint8Array }

/**
 * Turns a byte stream (chunks cut anywhere) back into frames. It holds at most one partial
 * frame (≤ `maxFrameBytes` + 4) besides the chunk being pushed.
 */
export class FrameDecoder {
  readonly maxFrameBytes: number
  #chunks: Uint8Array[] = []
  #buffered = 0
  /** Body length of the frame being read, once its header is complete. */
  #need: number | undefined

  constructor(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    this.maxFrameBytes = maxFrameBytes
  }

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.#buffered
  }

  /** Adds bytes; returns the frames they complete. Throws `P2pFrameError` on a bad header. */
  push(chunk: Chunk): Uint8Array[] {
    const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray()
    if (bytes.length > 0) {
      this.#chunks.push(bytes)
      this.#buffered += bytes.length
    }
    const frames: Uint8Array[] = []
    for (;;) {
      if (this.#need === undefined) {
        if (this.#buffered < HEADER_BYTES) break
        const header = this.#take(HEADER_BYTES)
        const length = new DataView(header.buffer, header.byteOffset, 4).getUint32(0)
        if (length === 0) throw new P2pFrameError('Empty frame')
        if (length > this.maxFrameBytes)
          throw new P2pFrameError('Frame too large', {
            details: `${length} bytes announced, at most ${this.maxFrameBytes} allowed`,
          })
        this.#need = length
      }
      if (this.#buffered < this.#need) break
      frames.push(this.#take(this.#need))
      this.#need = undefined
    }
    return frames
  }

  /** Removes and returns the first `n` buffered bytes (n ≤ buffered). */
  #take(n: number): Uint8Array {
    const first = this.#chunks[0]!
    this.#buffered -= n
    if (first.length === n) {
      this.#chunks.shift()
      return first
    }
    if (first.length > n) {
      this.#chunks[0] = first.subarray(n)
      return first.subarray(0, n)
    }
    const out = new Uint8Array(n)
    let at = 0
    while (at < n) {
      const chunk = this.#chunks[0]!
      const part = Math.min(chunk.length, n - at)
      out.set(chunk.subarray(0, part), at)
      at += part
      if (part === chunk.length) this.#chunks.shift()
      else this.#chunks[0] = chunk.subarray(part)
    }
    return out
  }
}
