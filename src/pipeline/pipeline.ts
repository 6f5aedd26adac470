import { BaseError } from '../errors.ts'
import { DotError, type DotGraph, type Position, parseDot } from './dot.ts'
import { referencedVars } from './interpolate.ts'
import { parseDuration } from './params.ts'
import { RUNNER_PARAMS, type TaskDefinition } from './task.ts'

/**
 * A validated pipeline: the DOT graph of a job's `observationSource` with every task's type
 * known, no cycles, every `$(task...)` reference pointing upstream, and the runner's own
 * attributes (index, timeout, retries, backoff, failEarly) parsed once.
 */

export type PipelineIssue = Position & { message: string }

export class PipelineError extends BaseError {
  override name = 'PipelineError'
  readonly issues: PipelineIssue[]
  constructor(issues: PipelineIssue[]) {
    super(`the pipeline has ${issues.length} error(s)`, {
      metaMessages: issues.map((i) => `${i.line}:${i.column}: ${i.message}`),
    })
    this.issues = issues
  }
}

export type TaskNode = Position & {
  id: string
  type: string
  definition: TaskDefinition
  /** Attributes other than the runner's. */
  params: Record<string, string>
  /** Order of this task's value among the inputs of its successors. */
  index: number
  timeoutMs: number | undefined
  retries: number
  minBackoffMs: number
  maxBackoffMs: number
  failEarly: boolean
  /** Upstream task ids, ordered by their `index`, then declaration order. */
  inputs: string[]
  outputs: string[]
}

export type Pipeline = {
  /** Tasks in a topological order (every task after all of its inputs). */
  tasks: TaskNode[]
  byId: Map<string, TaskNode>
  /** Tasks with no successors: their results are the run's outputs. */
  terminals: TaskNode[]
  graph: DotGraph
  /** Unknown attributes, which do not stop the pipeline but are probably typos. */
  warnings: PipelineIssue[]
}

export type TaskRegistry = ReadonlyMap<string, TaskDefinition>

/** Variables every run has besides the tasks. */
const GLOBAL_VARS = new Set(['jobSpec', 'jobRun'])

/** Parses and validates `source`; throws PipelineError listing every problem found. */
export function buildPipeline(source: string, registry: TaskRegistry): Pipeline {
  let graph: DotGraph
  try {
    graph = parseDot(source)
  } catch (err) {
    if (err instanceof DotError) {
      throw new PipelineError([
        { line: err.line, column: err.column, message: err.shortMessage.replace(/^\d+:\d+: /, '') },
      ])
    }
    throw err
  }
  const issues: PipelineIssue[] = []
  const warnings: PipelineIssue[] = []
  if (graph.nodes.length === 0)
    issues.push({ line: 1, column: 1, message: 'the pipeline has no tasks' })

  const byId = new Map<string, TaskNode>()
  graph.nodes.forEach((node) => {
    const at = (attr: string): Position => node.attrPositions[attr] ?? node
    const type = node.attrs.type
    const definition = type === undefined ? undefined : registry.get(type)
    if (type === undefined) issues.push({ ...node, message: `task ${node.id} has no type` })
    else if (!definition)
      issues.push({ ...at('type'), message: `task ${node.id} has unknown type "${type}"` })
    const params: Record<string, string> = {}
    for (const [key, value] of Object.entries(node.attrs)) {
      if ((RUNNER_PARAMS as readonly string[]).includes(key)) continue
      params[key] = value
      if (definition && !definition.params.includes(key)) {
        warnings.push({
          ...at(key),
          message: `task ${node.id} (${type}) does not use attribute "${key}"`,
        })
      }
    }
    const number = (attr: string, fallback: number): number => {
      const raw = node.attrs[attr]
      if (raw === undefined) return fallback
      const n = Number(raw)
      if (!Number.isSafeInteger(n) || n < 0) {
        issues.push({
          ...at(attr),
          message: `task ${node.id}: ${attr} must be a non-negative integer, got "${raw}"`,
        })
        return fallback
      }
      return n
    }
    const duration = (attr: string, fallback: number | undefined): number | undefined => {
      const raw = node.attrs[attr]
      if (raw === undefined) return fallback
      try {
        return parseDuration(raw, attr)
      } catch {
        issues.push({
          ...at(attr),
          message: `task ${node.id}: ${attr} "${raw}" is not a duration like 500ms or 10s`,
        })
        return fallback
      }
    }
    const failEarly = node.attrs.failEarly
    if (failEarly !== undefined && failEarly !== 'true' && failEarly !== 'false') {
      issues.push({
        ...at('failEarly'),
        message: `task ${node.id}: failEarly must be "true" or "false"`,
      })
    }
    byId.set(node.id, {
      id: node.id,
      type: type ?? '',
      definition: definition as TaskDefinition,
      params,
      index: number('index', 0),
      timeoutMs: duration('timeout', undefined),
      retries: number('retries', 0),
      minBackoffMs: duration('minBackoff', 100)!,
      maxBackoffMs: duration('maxBackoff', 5_000)!,
      failEarly: failEarly === 'true',
      inputs: [],
      outputs: [],
      line: node.line,
      column: node.column,
    })
  })

  const seenEdges = new Set<string>()
  for (const edge of graph.edges) {
    const key = `${edge.from}\u0000${edge.to}`
    if (seenEdges.has(key)) continue
    seenEdges.add(key)
    if (edge.from === edge.to) {
      issues.push({ ...edge, message: `task ${edge.from} depends on itself` })
      continue
    }
    byId.get(edge.from)!.outputs.push(edge.to)
    byId.get(edge.to)!.inputs.push(edge.from)
  }
  const declared = new Map(graph.nodes.map((n, i) => [n.id, i]))
  for (const task of byId.values()) {
    task.inputs.sort(
      (a, b) => byId.get(a)!.index - byId.get(b)!.index || declared.get(a)! - declared.get(b)!,
    )
  }

  // Kahn's algorithm; what is left over lies on a cycle.
  const pending = new Map([...byId.values()].map((t) => [t.id, t.inputs.length]))
  const ready = graph.nodes.map((n) => n.id).filter((id) => pending.get(id) === 0)
  const order: TaskNode[] = []
  while (ready.length > 0) {
    const task = byId.get(ready.shift()!)!
    order.push(task)
    for (const out of task.outputs) {
      const left = pending.get(out)! - 1
      pending.set(out, left)
      if (left === 0) ready.push(out)
    }
  }
  if (order.length < byId.size) {
    const onCycle = graph.nodes.filter((n) => pending.get(n.id)! > 0).map((n) => n.id)
    const edge = graph.edges.find((e) => onCycle.includes(e.from) && onCycle.includes(e.to))!
    issues.push({ ...edge, message: `the graph has a cycle through ${onCycle.join(', ')}` })
  } else {
    checkReferences(order, byId, graph, issues)
  }

  if (issues.length > 0)
    throw new PipelineError(issues.sort((a, b) => a.line - b.line || a.column - b.column))
  return {
    tasks: order,
    byId,
    terminals: order.filter((t) => t.outputs.length === 0),
    graph,
    warnings,
  }
}

/** Every `$(x...)` must name a global variable or a task upstream of the one using it. */
function checkReferences(
  order: TaskNode[],
  byId: Map<string, TaskNode>,
  graph: DotGraph,
  issues: PipelineIssue[],
): void {
  const ancestors = new Map<string, Set<string>>()
  for (const task of order) {
    const set = new Set<string>()
    for (const input of task.inputs) {
      set.add(input)
      for (const a of ancestors.get(input)!) set.add(a)
    }
    ancestors.set(task.id, set)
  }
  for (const node of graph.nodes) {
    const task = byId.get(node.id)!
    for (const [attr, value] of Object.entries(task.params)) {
      for (const ref of referencedVars(value)) {
        const head = ref.split('.')[0]!
        if (GLOBAL_VARS.has(head)) continue
        const pos = node.attrPositions[attr] ?? node
        if (!byId.has(head)) {
          issues.push({
            ...pos,
            message: `task ${task.id}: $(${ref}) refers to no task or variable`,
          })
        } else if (!ancestors.get(task.id)!.has(head)) {
          issues.push({
            ...pos,
            message: `task ${task.id}: $(${ref}) refers to task ${head}, which is not upstream of it`,
          })
        }
      }
    }
  }
}
