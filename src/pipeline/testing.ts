/** Helpers for task tests: a real TaskContext built from literal parameters and inputs. */
import { type TaskContext, type TaskDeps, TaskError, type TaskResult } from './task.ts'
import { Vars } from './vars.ts'

export type TestContextParameters = {
  id?: string
  type?: string
  params?: Record<string, string>
  /** Input values; pass a TaskError (or `{ error }`) for a failed input. */
  inputs?: unknown[]
  vars?: Record<string, unknown>
  deps?: TaskDeps
  signal?: AbortSignal
}

export function testContext(p: TestContextParameters = {}): TaskContext {
  return {
    id: p.id ?? 'task',
    type: p.type ?? 'test',
    runId: 'run-1',
    params: p.params ?? {},
    inputs: (p.inputs ?? []).map((v): TaskResult => {
      if (v instanceof TaskError) return { error: v }
      return { value: v }
    }),
    vars: new Vars(p.vars ?? {}),
    signal: p.signal ?? new AbortController().signal,
    deps: p.deps ?? {},
  }
}
