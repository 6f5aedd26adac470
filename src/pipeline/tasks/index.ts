import type { TaskRegistry } from '../pipeline.ts'
import type { TaskDefinition } from '../task.ts'
import { anyTask } from './any.ts'
import { base64decodeTask } from './base64decode.ts'
import { base64encodeTask } from './base64encode.ts'
import { bridgeTask } from './bridge.ts'
import { cborparseTask } from './cborparse.ts'
import { conditionalTask } from './conditional.ts'
import { divideTask } from './divide.ts'
import { ethabidecodeTask } from './ethabidecode.ts'
import { ethabidecodelogTask } from './ethabidecodelog.ts'
import { ethabiencodeTask } from './ethabiencode.ts'
import { ethcallTask } from './ethcall.ts'
import { ethtxTask } from './ethtx.ts'
import { hexdecodeTask } from './hexdecode.ts'
import { hexencodeTask } from './hexencode.ts'
import { httpTask } from './http.ts'
import { jsonparseTask } from './jsonparse.ts'
import { lengthTask } from './length.ts'
import { lessthanTask } from './lessthan.ts'
import { lookupTask } from './lookup.ts'
import { lowercaseTask } from './lowercase.ts'
import { meanTask } from './mean.ts'
import { medianTask } from './median.ts'
import { memoTask } from './memo.ts'
import { mergeTask } from './merge.ts'
import { modeTask } from './mode.ts'
import { multiplyTask } from './multiply.ts'
import { sumTask } from './sum.ts'
import { uppercaseTask } from './uppercase.ts'

/** Every task type a job spec may use. */
export const ALL_TASKS: readonly TaskDefinition[] = [
  anyTask,
  base64decodeTask,
  base64encodeTask,
  bridgeTask,
  cborparseTask,
  conditionalTask,
  divideTask,
  ethabidecodeTask,
  ethabidecodelogTask,
  ethabiencodeTask,
  ethcallTask,
  ethtxTask,
  hexdecodeTask,
  hexencodeTask,
  httpTask,
  jsonparseTask,
  lengthTask,
  lessthanTask,
  lookupTask,
  lowercaseTask,
  meanTask,
  medianTask,
  memoTask,
  mergeTask,
  modeTask,
  multiplyTask,
  sumTask,
  uppercaseTask,
]

export const TASKS: TaskRegistry = new Map(ALL_TASKS.map((t) => [t.type, t]))
