import { readFile } from 'node:fs/promises'
import { Command } from 'commander'
import { BaseError } from '../errors.ts'
import { JobSpecError, type ParsedJob, parseJobSpec, type SpecIssue } from '../pipeline/job-spec.ts'
import { TASKS } from '../pipeline/tasks/index.ts'

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
  return jobs
}
