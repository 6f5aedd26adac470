/**
 * A bounded FIFO queue that drops its *oldest* item when full. Committee protocols are round
 * based: when a peer is away long enough to fill its queue, the newest messages (current round)
 * are worth more than the oldest (rounds already given up). Drops are counted.
 */
export class DropOldestQueue<T> {
  readonly maxLength: number
  #items: T[] = []
  #head = 0
  #dropped = 0

  constructor(maxLength: number) {
    if (!Number.isInteger(maxLength) || maxLength < 1)
      throw new RangeError(`queue length must be a positive integer, got ${maxLength}`)
    this.maxLength = maxLength
  }

  get length(): number {
    return this.#items.length - this.#head
  }

  /** Items dropped because the queue was full, since creation. */
  get dropped(): number {
    return this.#dropped
  }

  /** Appends; returns the item dropped to make room, if any. */
  push(item: T): T | undefined {
    let evicted: T | undefined
    if (this.length >= this.maxLength) {
      evicted = this.shift()
      this.#dropped++
    }
    this.#items.push(item)
    return evicted
  }

  /** Puts an item back at the front (a send that failed); dropped instead if the queue is full. */
  unshift(item: T): boolean {
    if (this.length >= this.maxLength) {
      this.#dropped++
      return false
    }
    if (this.#head > 0) this.#items[--this.#head] = item
    else this.#items.unshift(item)
    return true
  }

  shift(): T | undefined {
    if (this.length === 0) return undefined
    const item = this.#items[this.#head]
    this.#items[this.#head] = undefined as T
    this.#head++
    // Compact once the dead prefix is half the array, so shifting stays O(1) amortised.
    if (this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return item
  }

  /** Keeps only the items `keep` accepts (not counted as drops); returns how many were removed. */
  filter(keep: (item: T) => boolean): number {
    const before = this.length
    this.#items = this.#items.slice(this.#head).filter(keep)
    this.#head = 0
    return before - this.length
  }

  clear(): number {
    return this.filter(() => false)
  }
}
