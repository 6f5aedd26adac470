// The npm registry mirror of our build machines lacks some platform-specific optional
// packages (e.g. anvil for macOS), so `npm install` here leaves them out of
// package-lock.json, and `npm ci` then refuses the lockfile as out of sync. This adds an entry
// (version, os, cpu, libc, optional) for every optional dependency the lockfile lacks, so
// `npm ci` works here and on machines that reach the full registry. Run after `npm install`.
import { readFileSync, writeFileSync } from 'node:fs'

const path = new URL('../package-lock.json', import.meta.url)
const lock = JSON.parse(readFileSync(path, 'utf8'))
const packages = lock.packages
const platform = (name) => {
  const entry = { os: undefined, cpu: undefined, libc: undefined }
  for (const os of ['darwin', 'linux', 'win32', 'android', 'freebsd'])
    if (name.includes(`-${os}-`)) entry.os = [os]
  if (/-(x64|amd64)(-|$)/.test(name)) entry.cpu = ['x64']
  if (/-arm64(-|$)/.test(name)) entry.cpu = ['arm64']
  if (/-musl$/.test(name)) entry.libc = ['musl']
  return entry
}
let added = 0
for (const [key, pkg] of Object.entries(packages)) {
  for (const [dep, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const base = key === '' ? '' : `${key}/`
    const candidates = [`${base}node_modules/${dep}`, `node_modules/${dep}`]
    if (candidates.some((c) => packages[c])) continue
    const { os, cpu, libc } = platform(dep)
    packages[`node_modules/${dep}`] = {
      version,
      ...(cpu ? { cpu } : {}),
      ...(libc ? { libc } : {}),
      optional: true,
      ...(os ? { os } : {}),
    }
    added++
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
)
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`)
console.log(`added ${added} missing optional dependencies to package-lock.json`)
