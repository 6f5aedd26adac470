import { readFile } from 'node:fs/promises'
import { InvalidArgumentError } from 'commander'
import { BaseError } from '../errors.ts'

/**
 * Parsers for command-line option values. They throw commander's InvalidArgumentError, which
 * commander reports naming the option: `option '--port <n>' argument 'x' is invalid. …`.
 */

export class OptionError extends BaseError {
  override name = 'OptionError'
}

export function parsePort(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) {
    throw new InvalidArgumentError('expected a port from 0 to 65535 (0: any free port).')
  }
  return Number(value)
}

/** A whole number from `min` up. */
export function parseInteger(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `expected a whole number of at least ${min}.`
          : `expected a whole number from ${min} to ${max}.`,
      )
    }
    return Number(value)
  }
}

/** A number from `min` to `max`. */
export function parseNumber(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value)
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a number from ${min} to ${max}.`)
    }
    return n
  }
}

/** Collects a repeatable option's values. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

/**
 * A secret from a file (`option` names it in errors), else from the environment variable `env`;
 * undefined when neither is given. Surrounding whitespace is dropped; an empty secret is an
 * error, so a blank file never turns authentication off by accident.
 */
export async function readSecret(
  file: string | undefined,
  option: string,
  env: string,
): Promise<string | undefined> {
  let value: string | undefined
  if (file !== undefined) {
    try {
      value = await readFile(file, 'utf8')
    } catch (err) {
      const code = (err as { code?: unknown }).code
      throw new OptionError(
        `${option}: cannot read ${file}${typeof code === 'string' ? ` (${code})` : ''}`,
      )
    }
    if (value.trim() === '') throw new OptionError(`${option}: ${file} is empty`)
  } else {
    value = process.env[env]
    if (value !== undefined && value.trim() === '') throw new OptionError(`${env} is set but empty`)
  }
  return value?.trim()
}

/** Resolves on SIGINT or SIGTERM. */
export function untilSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      process.off('SIGINT', done)
      process.off('SIGTERM', done)
      resolve()
    }
    process.once('SIGINT', done)
    process.once('SIGTERM', done)
  })
}
