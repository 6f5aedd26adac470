import { promises as dnsPromises, type LookupAddress } from 'node:dns'
import { isIP, isIPv4 } from 'node:net'
import { BaseError } from '../errors.ts'

/**
 * SSRF protection: which addresses a job's HTTP request may reach.
 *
 * A request is refused when its host is `localhost` / `*.localhost`, or when the host is (or
 * any address its name resolves to is) loopback, unspecified, private, carrier-grade NAT,
 * link-local, unique-local, multicast, broadcast, reserved, benchmark, documentation, or a
 * cloud metadata endpoint. IPv4 embedded in IPv6 (`::ffff:a.b.c.d`, `::a.b.c.d`, NAT64
 * `64:ff9b::/96`, 6to4 `2002::/16`) is judged by its IPv4 address.
 *
 * Host spellings such as `0x7f000001`, `2130706433`, `0177.0.0.1` or `127.1` need no special
 * handling here: the WHATWG URL parser (`new URL()`) already normalises them to dotted IPv4
 * for http(s) URLs, and the HTTP client only ever uses `url.hostname`.
 *
 * DNS rebinding: `guardedLookup` is given to node's `net`/`http` as the `lookup` option, so
 * the addresses it checks are exactly the addresses the socket connects to; there is no second
 * resolution between check and connect. It refuses a name if ANY of its addresses is refused.
 */

export class SsrfError extends BaseError {
  override name = 'SsrfError'
  readonly host: string
  readonly address: string | undefined
  readonly reason: string
  constructor(host: string, reason: string, address?: string) {
    const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
    const what = address && address !== bare ? `${host} (${address})` : host
    super(`refused to connect to ${what}: ${reason}`, {
      metaMessages: [
        'Jobs may not reach private, loopback or metadata addresses unless the node allows',
        'unrestricted network access and the task sets allowUnrestrictedNetworkAccess="true".',
      ],
      retryable: false,
    })
    this.host = host
    this.address = address
    this.reason = reason
  }
}

/** [first address, prefix length, reason], IPv4 as 32-bit numbers. Specific entries first. */
const V4_RANGES: ReadonlyArray<readonly [number, number, string]> = [
  [v4('169.254.169.254'), 32, 'cloud metadata address'],
  [v4('168.63.129.16'), 32, 'cloud metadata address (Azure)'],
  [v4('100.100.100.200'), 32, 'cloud metadata address (Alibaba)'],
  [v4('255.255.255.255'), 32, 'broadcast address'],
  [v4('0.0.0.0'), 8, 'unspecified address ("this network")'],
  [v4('10.0.0.0'), 8, 'private address'],
  [v4('100.64.0.0'), 10, 'carrier-grade NAT address'],
  [v4('127.0.0.0'), 8, 'loopback address'],
  [v4('169.254.0.0'), 16, 'link-local address'],
  [v4('172.16.0.0'), 12, 'private address'],
  [v4('192.0.0.0'), 24, 'IETF protocol assignment address'],
  [v4('192.0.2.0'), 24, 'documentation address'],
  [v4('192.168.0.0'), 16, 'private address'],
  [v4('198.18.0.0'), 15, 'benchmarking address'],
  [v4('198.51.100.0'), 24, 'documentation address'],
  [v4('203.0.113.0'), 24, 'documentation address'],
  [v4('224.0.0.0'), 4, 'multicast address'],
  [v4('240.0.0.0'), 4, 'reserved address'],
]

function v4(text: string): number {
  const parts = text.split('.')
  return (
    ((Number(parts[0]) << 24) |
      (Number(parts[1]) << 16) |
      (Number(parts[2]) << 8) |
      Number(parts[3])) >>>
    0
  )
}

function checkV4(n: number): string | undefined {
  for (const [base, bits, reason] of V4_RANGES) {
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0
    if ((n & mask) >>> 0 === base) return reason
  }
  return undefined
}

/** The eight 16-bit groups of a valid IPv6 address (zone id dropped). */
function parseV6(text: string): number[] {
  let s = text
  const zone = s.indexOf('%')
  if (zone >= 0) s = s.slice(0, zone)
  const lastColon = s.lastIndexOf(':')
  if (s.includes('.', lastColon)) {
    const n = v4(s.slice(lastColon + 1))
    s = `${s.slice(0, lastColon + 1)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`
  }
  const hex = (part: string | undefined) =>
    part ? part.split(':').map((h) => Number.parseInt(h, 16)) : []
  const halves = s.split('::')
  if (halves.length === 1) return hex(halves[0])
  const head = hex(halves[0])
  const rest = hex(halves[1])
  return [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest]
}

function checkV6(text: string): string | undefined {
  const g = parseV6(text)
  const first = g[0]!
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0)
  const embedded = (hi: number, lo: number) => checkV4(((hi << 16) | lo) >>> 0)
  if (zeros(0, 8)) return 'unspecified address'
  if (zeros(0, 7) && g[7] === 1) return 'loopback address'
  // IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, SIIT ::ffff:0:a.b.c.d
  if (zeros(0, 5) && (g[5] === 0xffff || g[5] === 0)) return embedded(g[6]!, g[7]!)
  if (zeros(0, 4) && g[4] === 0xffff && g[5] === 0) return embedded(g[6]!, g[7]!)
  // NAT64 well-known prefix 64:ff9b::/96
  if (first === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return embedded(g[6]!, g[7]!)
  // 6to4 2002:aabb:ccdd::/48
  if (first === 0x2002) return embedded(g[1]!, g[2]!)
  if (first === 0xfd00 && g[1] === 0x0ec2 && zeros(2, 7) && g[7] === 0x254) {
    return 'cloud metadata address (AWS)'
  }
  if ((first & 0xffc0) === 0xfe80) return 'link-local address'
  if ((first & 0xffc0) === 0xfec0) return 'site-local address'
  if ((first & 0xfe00) === 0xfc00) return 'unique-local address'
  if ((first & 0xff00) === 0xff00) return 'multicast address'
  if (first === 0x0100 && zeros(1, 4)) return 'discard-only address'
  if (first === 0x2001 && g[1] === 0x0db8) return 'documentation address'
  return undefined
}

/**
 * Why `ip` may not be reached by a job, or undefined when it may. Accepts IPv4 and IPv6 (with
 * or without brackets); anything that is not an IP address is refused.
 */
export function checkAddress(ip: string): string | undefined {
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip
  const kind = isIP(bare)
  if (kind === 4) return checkV4(v4(bare))
  if (kind === 6) return checkV6(bare)
  return 'not an IP address'
}

/** Whether a host name is refused by name alone (`localhost`, `*.localhost`). */
export function isLocalhostName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.+$/, '')
  return h === 'localhost' || h.endsWith('.localhost')
}

/** Resolves a host name to IP addresses (all of them). */
export type Resolve = (hostname: string) => Promise<readonly string[]>

/** The node's resolver: `dns.lookup` with `all: true`, so the OS's hosts file applies too. */
export const dnsResolve: Resolve = async (hostname) => {
  const found = await dnsPromises.lookup(hostname, { all: true, order: 'verbatim' })
  return found.map((a) => a.address)
}

/** Exceptions to the guard, e.g. an operator allow-list: `true` lets `ip` through for `host`. */
export type AllowAddress = (ip: string, host: string) => boolean

export type GuardOptions = {
  /** Name resolution; defaults to `dns.lookup(all: true)`. Tests inject a fake. */
  resolve?: Resolve
  /** Addresses let through despite the guard (for an allow-list or tests). */
  allowAddress?: AllowAddress
}

/** Refuses `host` (a name or an IP literal) by name or literal address, before any DNS. */
export function checkHost(host: string, allowAddress?: AllowAddress): SsrfError | undefined {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
  if (isLocalhostName(bare)) return new SsrfError(host, 'localhost is refused by name')
  if (isIP(bare)) {
    const reason = checkAddress(bare)
    if (reason && !allowAddress?.(bare, bare)) return new SsrfError(host, reason, bare)
  }
  return undefined
}

type LookupOptions = { family?: number | string; all?: boolean }
type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void

export type GuardedLookup = (
  hostname: string,
  options: LookupOptions,
  callback: LookupCallback,
) => void

/**
 * A `lookup` for node's `net`/`http`/`https` (`lookup` option): resolves every address of the
 * name and fails with an `SsrfError` if ANY of them is refused, else answers node with the
 * same addresses (so the connection goes to a checked address).
 */
export function createGuardedLookup(
  options: GuardOptions & { check?: boolean } = {},
): GuardedLookup {
  const resolve = options.resolve ?? dnsResolve
  const allowAddress = options.allowAddress
  const check = options.check ?? true
  return (hostname, lookupOptions, callback) => {
    const host = hostname
    if (check) {
      const refused = checkHost(host, allowAddress)
      if (refused) {
        process.nextTick(callback, refused, lookupOptions?.all ? [] : '', undefined)
        return
      }
    }
    const literal = isIP(host)
    const pending: Promise<readonly string[]> = literal ? Promise.resolve([host]) : resolve(host)
    pending.then(
      (addresses) => {
        if (addresses.length === 0) {
          const err: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${host}`)
          err.code = 'ENOTFOUND'
          return callback(err, lookupOptions?.all ? [] : '')
        }
        if (check) {
          for (const address of addresses) {
            const reason = checkAddress(address)
            if (reason && !allowAddress?.(address, host)) {
              return callback(new SsrfError(host, reason, address), lookupOptions?.all ? [] : '')
            }
          }
        }
        const family = lookupOptions?.family
        const wanted = family === 'IPv4' ? 4 : family === 'IPv6' ? 6 : Number(family ?? 0)
        let list: LookupAddress[] = addresses.map((address) => ({
          address,
          family: isIPv4(address) ? 4 : 6,
        }))
        if (wanted === 4 || wanted === 6) list = list.filter((a) => a.family === wanted)
        if (list.length === 0) {
          const err: NodeJS.ErrnoException = new Error(
            `getaddrinfo ENOTFOUND ${host} (no IPv${wanted} address)`,
          )
          err.code = 'ENOTFOUND'
          return callback(err, lookupOptions?.all ? [] : '')
        }
        if (lookupOptions?.all) return callback(null, list)
        return callback(null, list[0]!.address, list[0]!.family)
      },
      (err: unknown) => callback(err as NodeJS.ErrnoException, lookupOptions?.all ? [] : ''),
    )
  }
}

/** The guard with the node's DNS resolver. */
export const guardedLookup: GuardedLookup = createGuardedLookup()
