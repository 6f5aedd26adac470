#!/usr/bin/env node
// Runs the built CLI when installed as a package, or the TypeScript source in a checkout.
import { existsSync } from 'node:fs'

const built = new URL('../dist/src/cli/main.js', import.meta.url)
const entry = existsSync(built) ? built : new URL('../src/cli/main.ts', import.meta.url)
const { main } = await import(entry.href)
process.exitCode = await main(process.argv.slice(2))
