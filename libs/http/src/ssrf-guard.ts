import * as dns from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { domainToASCII } from 'node:url';
import * as ipaddr from 'ipaddr.js';
import { OutboundRequestError } from './outbound-request-error';

type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;

/** Resolves a host name to every address it has. Injectable so tests control DNS. */
export type HostResolver = (hostname: string) => Promise<readonly dns.LookupAddress[]>;

/** The system resolver (getaddrinfo, honours /etc/hosts), asking for every address at once. */
export const systemResolver: HostResolver = (hostname) =>
  dns.promises.lookup(hostname, { all: true, order: 'verbatim' });

const ALLOW_HINT = '(add the host to OUTBOUND_ALLOW_HOSTS to permit it)';

/**
 * Cloud metadata names. Their addresses are link-local and refused anyway; refusing the names too
 * gives a clear message and covers resolvers that map them somewhere unexpected.
 */
const METADATA_HOSTS = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'metadata.azure.internal',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.tencentyun.com',
]);

/** ipaddr.js range names turned into words for error messages. */
const RANGE_LABELS: Record<string, string> = {
  loopback: 'loopback',
  private: 'private',
  linkLocal: 'link-local',
  uniqueLocal: 'unique-local',
  carrierGradeNat: 'carrier-grade NAT',
  unspecified: 'unspecified',
  multicast: 'multicast',
  broadcast: 'broadcast',
  reserved: 'reserved',
  deprecatedSiteLocal: 'site-local',
  ipv4Compatible: 'IPv4-compatible',
};

// Ranges ipaddr.js calls "unicast" that can still reach an IPv4 host of our choosing.
const IPV4_COMPATIBLE = ipaddr.IPv6.parseCIDR('::/96');
const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR('64:ff9b::/96');

type AllowEntry =
  | { kind: 'host'; host: string }
  | { kind: 'suffix'; suffix: string }
  | { kind: 'cidr'; range: [IpAddress, number] };

/** Lower case, no trailing dot, no IPv6 brackets: the form URL.hostname and lookups compare in. */
export function normalizeHostname(hostname: string): string {
  let h = hostname.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  while (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/** Parses an address and turns IPv4-mapped IPv6 (::ffff:a.b.c.d) into the IPv4 it stands for. */
function parseAddress(ip: string): IpAddress {
  const addr = ipaddr.parse(normalizeHostname(ip));
  return addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()
    ? (addr as ipaddr.IPv6).toIPv4Address()
    : addr;
}

/** NAT64 addresses carry an IPv4 address in their last 32 bits; that is where they lead. */
function nat64Target(addr: ipaddr.IPv6): ipaddr.IPv4 {
  const bytes = addr.toByteArray();
  return new ipaddr.IPv4(bytes.slice(12));
}

/** Why an address is refused, or undefined for a public unicast address. */
export function refusalReason(address: string | IpAddress): string | undefined {
  const addr = typeof address === 'string' ? parseAddress(address) : address;
  if (addr.kind() === 'ipv4') {
    const range = (addr as ipaddr.IPv4).range();
    return range === 'unicast' ? undefined : (RANGE_LABELS[range] ?? `special-purpose (${range})`);
  }
  const v6 = addr as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return refusalReason(v6.toIPv4Address());
  if (v6.match(NAT64_WELL_KNOWN)) return refusalReason(nat64Target(v6));
  const range = v6.range();
  if (range === 'unicast')
    return v6.match(IPV4_COMPATIBLE) ? RANGE_LABELS.ipv4Compatible : undefined;
  return RANGE_LABELS[range] ?? `special-purpose (${range})`;
}

function parseAllowEntry(raw: string): AllowEntry {
  const entry = normalizeHostname(raw);
  const fail = (why: string) =>
    new Error(
      `OUTBOUND_ALLOW_HOSTS: "${raw}" is not valid (${why}); use a host name, *.domain, an IP or a CIDR`,
    );
  if (entry.includes('/')) {
    if (!ipaddr.isValidCIDR(entry)) throw fail('bad CIDR');
    const [base, bits] = ipaddr.parseCIDR(entry);
    // ::ffff:127.0.0.0/104 means 127.0.0.0/8: addresses are compared after unmapping.
    if (base.kind() === 'ipv6' && (base as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
      return { kind: 'cidr', range: [(base as ipaddr.IPv6).toIPv4Address(), bits - 96] };
    }
    return { kind: 'cidr', range: [base, bits] };
  }
  if (isIP(entry)) {
    const addr = parseAddress(entry);
    return { kind: 'cidr', range: [addr, addr.kind() === 'ipv4' ? 32 : 128] };
  }
  const wildcard = entry.startsWith('*.');
  const name = domainToASCII(wildcard ? entry.slice(2) : entry);
  if (!name || name.includes('*')) throw fail('bad host name');
  return wildcard ? { kind: 'suffix', suffix: `.${name}` } : { kind: 'host', host: name };
}

/**
 * Which destinations outbound requests may reach. Everything that is not public unicast is
 * refused unless the allow list names the host (exactly, or by `*.domain` for its subdomains) or
 * covers the address (IP or CIDR).
 */
export class SsrfPolicy {
  private readonly entries: readonly AllowEntry[];

  constructor(allowHosts: readonly string[] = []) {
    this.entries = allowHosts.filter((h) => h.trim()).map(parseAllowEntry);
  }

  /** Host allowed by name: every address it resolves to is then accepted. */
  isHostAllowListed(hostname: string): boolean {
    const host = normalizeHostname(hostname);
    return this.entries.some(
      (e) =>
        (e.kind === 'host' && e.host === host) || (e.kind === 'suffix' && host.endsWith(e.suffix)),
    );
  }

  isAddressAllowListed(address: string): boolean {
    const addr = parseAddress(address);
    return this.entries.some(
      (e) => e.kind === 'cidr' && e.range[0].kind() === addr.kind() && addr.match(e.range),
    );
  }

  /**
   * Checks what can be checked before any DNS lookup: IP-literal hosts (which never go through
   * the lookup) and metadata host names. Throws `ssrf_blocked`.
   */
  assertHostAllowed(hostname: string): void {
    const host = normalizeHostname(hostname);
    if (isIP(host)) return this.assertAddressAllowed(host);
    if (this.isHostAllowListed(host)) return;
    if (METADATA_HOSTS.has(host)) {
      throw new OutboundRequestError(
        'ssrf_blocked',
        `Refused to connect to ${host}: cloud metadata endpoints are not allowed ${ALLOW_HINT}`,
      );
    }
  }

  /** Throws `ssrf_blocked` unless the address is public unicast or allow-listed. */
  assertAddressAllowed(address: string, hostname?: string): void {
    const host = hostname === undefined ? undefined : normalizeHostname(hostname);
    if (host !== undefined && host !== normalizeHostname(address) && this.isHostAllowListed(host))
      return;
    if (this.isAddressAllowListed(address)) return;
    const reason = refusalReason(address);
    if (reason === undefined) return;
    const target =
      host === undefined || host === normalizeHostname(address) ? address : `${host} (${address})`;
    throw new OutboundRequestError(
      'ssrf_blocked',
      `Refused to connect to ${target}: ${reason} addresses are not allowed ${ALLOW_HINT}`,
    );
  }

  /** Resolves once and refuses the host if ANY of its addresses is refused. */
  async resolve(hostname: string, resolver: HostResolver): Promise<dns.LookupAddress[]> {
    const host = normalizeHostname(hostname);
    if (isIP(host)) {
      this.assertAddressAllowed(host);
      return [{ address: host, family: isIP(host) }];
    }
    this.assertHostAllowed(host);
    const addresses = [...(await resolver(host))];
    if (addresses.length === 0) {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), {
        code: 'ENOTFOUND',
        hostname: host,
      });
    }
    for (const a of addresses) this.assertAddressAllowed(a.address, host);
    return addresses;
  }
}

/**
 * A `lookup` for net/tls.connect (undici's `connect.lookup`). The socket connects to exactly the
 * addresses checked here, so a second, different DNS answer (rebinding) can never be used.
 */
export function createGuardedLookup(
  policy: SsrfPolicy,
  resolver: HostResolver = systemResolver,
): LookupFunction {
  return (hostname, options, callback) => {
    policy.resolve(hostname, resolver).then(
      (all) => {
        const family =
          options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
        const wanted = family ? all.filter((a) => a.family === family) : all;
        if (wanted.length === 0) {
          const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
            code: 'ENOTFOUND',
          });
          return callback(err, '', 0);
        }
        if (options.all) return callback(null, wanted);
        callback(null, wanted[0].address, wanted[0].family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };
}
