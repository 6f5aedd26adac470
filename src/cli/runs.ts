import { Command } from 'commander'
import { BaseError } from '../errors.ts'
import {
  type ApiOptions,
  createApiClientFrom,
  prettyJson,
  table,
  withApiOptions,
} from './api-client.ts'

export class RunsCommandError extends BaseError {
  override name = 'RunsCommandError'
}

/** A run as the API returns it. */
export type RunView = {
  id: string
  runId: string
  jobId: string
  state: string
  inputs: unknown
  outputs: unknown[] | null
  errors: (string | null)[] | null
  requestId: string | null
  createdAt: string
  finishedAt: string | null
  tasks?: {
    taskId: string
    type: string
    value: unknown
    error: string | null
    attempts: number
    startedAt: string
    finishedAt: string
  }[]
}

const whole = (name: string) => (value: string) => {
  if (!/^\d+$/.test(value)) throw new RunsCommandError(`${name} must be a whole number`)
  return Number(value)
}

const oneLine = (value: unknown) => {
  const s = typeof value === 'string' ? value : prettyJson(value).replace(/\s*\n\s*/g, ' ')
  return s.length > 80 ? `${s.slice(0, 77)}...` : s
}

/** `orakel runs list --job <id>` and `orakel runs show <runId>`. */
export function runsCommand(): Command {
  const runs = new Command('runs').description("Look at a running node's job runs")

  withApiOptions(
    runs
      .command('list')
      .description("A job's runs, newest first")
      .requiredOption('--job <id>', 'job id or externalJobID')
      .option('--limit <n>', 'at most this many runs (default 50, at most 1000)', whole('--limit'))
      .option('--offset <n>', 'skip this many runs', whole('--offset'))
      .option('--json', 'print JSON'),
  ).action(
    async (
      options: ApiOptions & { job: string; limit?: number; offset?: number; json?: boolean },
    ) => {
      const api = await createApiClientFrom(options)
      const query = new URLSearchParams()
      if (options.limit !== undefined) query.set('limit', String(options.limit))
      if (options.offset !== undefined) query.set('offset', String(options.offset))
      const qs = query.size ? `?${query}` : ''
      const res = await api.request<{ runs: RunView[]; total: number; offset: number }>(
        'GET',
        `/v2/jobs/${encodeURIComponent(options.job)}/runs${qs}`,
      )
      if (options.json) return console.log(prettyJson(res))
      if (res.runs.length === 0) return console.log(`no runs (${res.total} in all)`)
      console.log(
        table([
          ['RUN ID', 'STATE', 'CREATED', 'FINISHED'],
          ...res.runs.map((r) => [r.runId, r.state, r.createdAt, r.finishedAt ?? '']),
        ]),
      )
      const last = res.offset + res.runs.length
      console.log(`runs ${res.offset + 1}-${last} of ${res.total}`)
    },
  )

  withApiOptions(
    runs
      .command('show')
      .description('A run with the result of each task')
      .argument('<runId>', 'the run id (a UUID)')
      .option('--json', 'print JSON'),
  ).action(async (runId: string, options: ApiOptions & { json?: boolean }) => {
    const api = await createApiClientFrom(options)
    const { run } = await api.request<{ run: RunView }>(
      'GET',
      `/v2/runs/${encodeURIComponent(runId)}`,
    )
    if (options.json) return console.log(prettyJson(run))
    console.log(
      table([
        ['runId', run.runId],
        ['jobId', run.jobId],
        ['state', run.state],
        ['requestId', run.requestId ?? ''],
        ['createdAt', run.createdAt],
        ['finishedAt', run.finishedAt ?? ''],
      ]),
    )
    if (run.outputs) console.log(`outputs  ${oneLine(run.outputs)}`)
    if (run.errors?.some((e) => e !== null)) console.log(`errors   ${oneLine(run.errors)}`)
    const tasks = run.tasks ?? []
    if (tasks.length) {
      console.log('')
      console.log(
        table([
          ['TASK', 'TYPE', 'ATTEMPTS', 'RESULT'],
          ...tasks.map((t) => [
            t.taskId,
            t.type,
            String(t.attempts),
            t.error !== null ? `error: ${oneLine(t.error)}` : oneLine(t.value),
          ]),
        ]),
      )
    }
  })
  return runs
}
