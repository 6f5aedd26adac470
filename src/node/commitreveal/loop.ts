/**
 * Runs `fn` every `intervalMs` (measured from the end of one run to the start of the next),
 * never two at once. `kick()` asks for a run now (or right after the one under way); `stop()`
 * ends the loop and waits for a run under way. Errors are handed to `onError`, never thrown.
 */
export type Loop = { kick(): void; stop(): Promise<void> }

export function startLoop(
  fn: () => Promise<void>,
  intervalMs: number,
  onError: (err: unknown) => void,
): Loop {
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let again = false
  let stopped = false

  const schedule = (ms: number) => {
    if (stopped) return
    clearTimeout(timer)
    timer = setTimeout(run, ms)
  }
  function run() {
    timer = undefined
    if (stopped) return
    if (running) {
      again = true
      return
    }
    running = fn()
      .catch(onError)
      .finally(() => {
        running = undefined
        if (again) {
          again = false
          schedule(0)
        } else schedule(intervalMs)
      })
  }
  schedule(0)
  return {
    kick() {
      if (stopped) return
      if (running) again = true
      else schedule(0)
    },
    async stop() {
      stopped = true
      clearTimeout(timer)
      await running
    },
  }
}
