import { readFile } from 'node:fs/promises'
import { Command } from 'commander'
import { BaseError } from '../errors.ts'
import { JobSpecError, type ParsedJob, parseJobSpec, type SpecIssue } from '../pipeline/job-spec.ts'
import { TASKS } from '../pipeline/tasks/index.ts'
import {
  ApiClientError,
  type ApiOptions,
  createApiClientFrom,
  prettyJson,
  table,
  withApiOptions,
} from './api-client.ts'

export class JobsCommandError extends BaseError {
  override name = 'JobsCommandError'
}

const at = (file: string, i: SpecIssue) => `${file}:${i.line}:${i.column}: ${i.message}`

/** The parsed graph of a job, for a person. */
export function describeJob(file: string, job: ParsedJob): string {
  const lines = [
    `${file}: ${job.spec.type} job${job.spec.name ? ` "${job.spec.name}"` : ''}, valid`,
    `  hash ${job.hash}`,
    ...(job.spec.externalJobID ? [`  externalJobID ${job.spec.externalJobID}`] : []),
    `  contractAddress ${job.spec.contractAddress}`,
    `tasks, in run order:`,
  ]
  const width = Math.max(...job.pipeline.tasks.map((t) => t.id.length))
  for (const t of job.pipeline.tasks) {
    const inputs = t.inputs.length ? ` <- ${t.inputs.join(', ')}` : ''
    lines.push(`  ${t.id.padEnd(width)}  ${t.type}${inputs}`)
  }
  for (const w of job.warnings) lines.push(`warning: ${at(file, w)}`)
  return lines.join('\n')
}

export function jobsCommand(): Command {
  const jobs = new Command('jobs').description('Work with job specs (Chainlink TOML format)')
  jobs
    .command('validate')
    .description('Parse and check a job spec; print its task graph, or every error found')
    .argument('<spec.toml>', 'the job spec file')
    .action(async (file: string) => {
      const text = await readFile(file, 'utf8').catch((cause: unknown) => {
        throw new JobsCommandError(`cannot read ${file}`, { cause })
      })
      try {
        console.log(describeJob(file, parseJobSpec(text, TASKS)))
      } catch (err) {
        if (!(err instanceof JobSpecError)) throw err
        for (const issue of err.issues) console.error(at(file, issue))
        throw new JobsCommandError(
          `${file} is not a valid job spec (${err.issues.length} error(s))`,
        )
      }
    })

  withApiOptions(
    jobs
      .command('create')
      .description('Add a job to a running node (through its API)')
      .argument('<spec.toml>', 'the job spec file'),
  ).action(async (file: string, options: ApiOptions) => {
    const text = await readFile(file, 'utf8').catch((cause: unknown) => {
      throw new JobsCommandError(`cannot read ${file}`, { cause })
    })
    const api = await createApiClientFrom(options)
    let res: { job: JobView; warnings: SpecIssue[] }
    try {
      res = await api.request('POST', '/v2/jobs', { body: text, contentType: 'application/toml' })
    } catch (err) {
      if (!(err instanceof ApiClientError && err.status === 422 && Array.isArray(err.apiDetails))) {
        throw err
      }
      const issues = err.apiDetails as SpecIssue[]
      for (const issue of issues) console.error(at(file, issue))
      throw new JobsCommandError(`${file} is not a valid job spec (${issues.length} error(s))`)
    }
    const { job } = res
    console.log(
      `created job ${job.id}${job.name ? ` "${job.name}"` : ''} (externalJobID ${job.externalJobID})`,
    )
    for (const w of res.warnings) console.error(`warning: ${at(file, w)}`)
  })

  withApiOptions(
    jobs.command('list').description("List a running node's jobs").option('--json', 'print JSON'),
  ).action(async (options: ApiOptions & { json?: boolean }) => {
    const api = await createApiClientFrom(options)
    const res = await api.request<{ jobs: JobView[] }>('GET', '/v2/jobs')
    if (options.json) return console.log(prettyJson(res.jobs))
    if (res.jobs.length === 0) return console.log('no jobs')
    console.log(
      table([
        ['ID', 'EXTERNAL JOB ID', 'TYPE', 'CREATED', 'NAME'],
        ...res.jobs.map((j) => [j.id, j.externalJobID, j.type, j.createdAt, j.name ?? '']),
      ]),
    )
  })

  withApiOptions(
    jobs
      .command('show')
      .description('Show a job and its spec')
      .argument('<id>', 'job id or externalJobID')
      .option('--json', 'print JSON'),
  ).action(async (id: string, options: ApiOptions & { json?: boolean }) => {
    const api = await createApiClientFrom(options)
    const { job } = await api.request<{ job: JobView }>('GET', `/v2/jobs/${encodeURIComponent(id)}`)
    if (options.json) return console.log(prettyJson(job))
    const fields: [string, string][] = [
      ['id', job.id],
      ['externalJobID', job.externalJobID],
      ['type', job.type],
      ['name', job.name ?? ''],
      ['contractAddress', job.contractAddress ?? ''],
      ['evmChainID', job.evmChainID ?? ''],
      ['hash', job.hash],
      ['createdAt', job.createdAt],
    ]
    console.log(table(fields))
    console.log(`\n${job.specToml.trimEnd()}`)
  })

  withApiOptions(
    jobs
      .command('delete')
      .description('Delete a job from a running node (its runs stay)')
      .argument('<id>', 'job id or externalJobID'),
  ).action(async (id: string, options: ApiOptions) => {
    const api = await createApiClientFrom(options)
    const { job } = await api.request<{ job: JobView }>(
      'DELETE',
      `/v2/jobs/${encodeURIComponent(id)}`,
    )
    console.log(`deleted job ${job.id}${job.name ? ` "${job.name}"` : ''}`)
  })
  return jobs
}

/** A job as the API returns it. */
export type JobView = {
  id: string
  externalJobID: string
  type: string
  name: string | null
  hash: string
  contractAddress: string | null
  evmChainID: string | null
  createdAt: string
  specToml: string
}
