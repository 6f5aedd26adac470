import type { InboundMessage } from '../../p2p/envelope.ts'
import type { CommitteeHost, MessageHandler } from '../../p2p/host.ts'

/**
 * A committee host whose messages are never lost to a handler that is not there yet: the job
 * starts its host before the key DKG and the OCA member exist (peers that are further along
 * already send to it), so messages that arrive while no handler is registered are kept —
 * at most `maxBuffered`, none older than `maxAgeMs` — and handed to the next handler added.
 * `peek` sees every message first (the job joins rounds other members started).
 */
export type BufferedHost = CommitteeHost & {
  /** Removes the underlying handler; the host itself stays the caller's to stop. */
  detach(): void
}

export function bufferedHost(
  host: CommitteeHost,
  options: {
    maxBuffered?: number
    maxAgeMs?: number
    peek?: (msg: InboundMessage) => void
    now?: () => number
  } = {},
): BufferedHost {
  const maxBuffered = options.maxBuffered ?? 2048
  const maxAgeMs = options.maxAgeMs ?? 120_000
  const now = options.now ?? Date.now
  const handlers = new Set<MessageHandler>()
  let buffer: { at: number; msg: InboundMessage }[] = []

  const remove = host.onMessage(async (msg) => {
    options.peek?.(msg)
    if (handlers.size === 0) {
      const t = now()
      buffer = buffer.filter((b) => t - b.at <= maxAgeMs)
      if (buffer.length >= maxBuffered) buffer.shift()
      buffer.push({ at: t, msg })
      return
    }
    for (const h of [...handlers]) await h(msg)
  })

  return Object.assign(Object.create(host) as CommitteeHost, {
    onMessage(handler: MessageHandler) {
      handlers.add(handler)
      const t = now()
      const replay = buffer.filter((b) => t - b.at <= maxAgeMs).map((b) => b.msg)
      buffer = []
      void (async () => {
        for (const msg of replay) {
          if (!handlers.has(handler)) return
          try {
            await handler(msg)
          } catch {
            // A handler logs its own failures; one bad message does not stop the replay.
          }
        }
      })()
      return () => {
        handlers.delete(handler)
      }
    },
    detach() {
      remove()
      handlers.clear()
      buffer = []
    },
  })
}
