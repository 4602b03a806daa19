import type { LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { OutboundRequestError } from './outbound-request-error';
import { createGuardedLookup, refusalReason, SsrfPolicy, type HostResolver } from './ssrf-guard';

const fixedResolver =
  (table: Record<string, string[]>): HostResolver =>
  async (host) => {
    const addresses = table[host];
    if (!addresses)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: isIP(address) }));
  };

function blocked(fn: () => unknown): OutboundRequestError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(OutboundRequestError);
    expect((e as OutboundRequestError).code).toBe('ssrf_blocked');
    return e as OutboundRequestError;
  }
  throw new Error('expected ssrf_blocked');
}

/** Runs a net-style lookup and returns what it hands to the socket. */
function lookup(
  fn: ReturnType<typeof createGuardedLookup>,
  host: string,
  all = true,
): Promise<LookupAddress[] | string> {
  return new Promise((resolve, reject) =>
    fn(host, { all }, (err, address) => (err ? reject(err) : resolve(address))),
  );
}

describe('refusalReason', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.8.9.10', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.100.100.200', 'carrier-grade NAT'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['192.0.2.10', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fc00::1', 'unique-local'],
    ['fd00:ec2::254', 'unique-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['::7f00:1', 'IPv4-compatible'],
    ['64:ff9b::10.0.0.1', 'private'],
  ])('refuses %s (%s)', (ip, reason) => {
    expect(refusalReason(ip)).toBe(reason);
  });

  it.each(['8.8.8.8', '93.184.216.34', '2606:4700:4700::1111', '64:ff9b::8.8.8.8'])(
    'accepts public %s',
    (ip) => expect(refusalReason(ip)).toBeUndefined(),
  );
});

describe('SsrfPolicy', () => {
  it('refuses private addresses with a message naming the fix', () => {
    const err = blocked(() => new SsrfPolicy().assertHostAllowed('127.0.0.1'));
    expect(err.message).toBe(
      'Refused to connect to 127.0.0.1: loopback addresses are not allowed (add the host to OUTBOUND_ALLOW_HOSTS to permit it)',
    );
    blocked(() => new SsrfPolicy().assertHostAllowed('[::1]'));
    blocked(() => new SsrfPolicy().assertHostAllowed('[::ffff:7f00:1]'));
    expect(() => new SsrfPolicy().assertHostAllowed('8.8.8.8')).not.toThrow();
  });

  it('refuses metadata host names before any lookup', () => {
    const err = blocked(() => new SsrfPolicy().assertHostAllowed('Metadata.Google.Internal.'));
    expect(err.message).toContain('metadata.google.internal: cloud metadata');
    expect(() =>
      new SsrfPolicy(['metadata.google.internal']).assertHostAllowed('metadata.google.internal'),
    ).not.toThrow();
  });

  it('allows by IP, by CIDR (v4 and v6) and by host name', () => {
    expect(() => new SsrfPolicy(['127.0.0.1']).assertAddressAllowed('127.0.0.1')).not.toThrow();
    blocked(() => new SsrfPolicy(['127.0.0.1']).assertAddressAllowed('127.0.0.2'));
    const cidr = new SsrfPolicy(['127.0.0.0/8', '::1/128', '10.1.0.0/16']);
    expect(() => cidr.assertAddressAllowed('127.1.2.3')).not.toThrow();
    expect(() => cidr.assertAddressAllowed('::1')).not.toThrow();
    expect(() => cidr.assertAddressAllowed('::ffff:127.0.0.1')).not.toThrow();
    expect(() => cidr.assertAddressAllowed('10.1.200.1')).not.toThrow();
    blocked(() => cidr.assertAddressAllowed('10.2.0.1'));
    const names = new SsrfPolicy(['localhost', '*.corp.example']);
    expect(names.isHostAllowListed('LOCALHOST.')).toBe(true);
    expect(names.isHostAllowListed('api.corp.example')).toBe(true);
    expect(names.isHostAllowListed('a.b.corp.example')).toBe(true);
    expect(names.isHostAllowListed('corp.example')).toBe(false);
    expect(names.isHostAllowListed('evilcorp.example')).toBe(false);
    expect(() => names.assertAddressAllowed('127.0.0.1', 'localhost')).not.toThrow();
    blocked(() => names.assertAddressAllowed('127.0.0.1', 'other.example'));
  });

  it('rejects malformed allow-list entries at construction', () => {
    expect(() => new SsrfPolicy(['10.0.0.0/33'])).toThrow(/OUTBOUND_ALLOW_HOSTS/);
    expect(() => new SsrfPolicy(['exa mple.com'])).toThrow(/OUTBOUND_ALLOW_HOSTS/);
    expect(() => new SsrfPolicy(['a.*.com'])).toThrow(/OUTBOUND_ALLOW_HOSTS/);
    expect(() => new SsrfPolicy(['', ' '])).not.toThrow();
  });
});

describe('createGuardedLookup', () => {
  const table = {
    'public.test': ['93.184.216.34', '2606:2800:220:1::1'],
    'internal.test': ['127.0.0.1'],
    'mixed.test': ['93.184.216.34', '10.0.0.5'],
  };

  it('hands the socket exactly the checked addresses, resolving once', async () => {
    const resolver = jest.fn(fixedResolver(table));
    const fn = createGuardedLookup(new SsrfPolicy(), resolver);
    await expect(lookup(fn, 'public.test')).resolves.toEqual([
      { address: '93.184.216.34', family: 4 },
      { address: '2606:2800:220:1::1', family: 6 },
    ]);
    await expect(lookup(fn, 'public.test', false)).resolves.toBe('93.184.216.34');
    expect(resolver).toHaveBeenCalledTimes(2);
  });

  it('refuses a name that resolves to loopback, and one where ANY address is private', async () => {
    const fn = createGuardedLookup(new SsrfPolicy(), fixedResolver(table));
    await expect(lookup(fn, 'internal.test')).rejects.toMatchObject({
      code: 'ssrf_blocked',
      message: expect.stringContaining('internal.test (127.0.0.1): loopback'),
    });
    await expect(lookup(fn, 'mixed.test')).rejects.toMatchObject({ code: 'ssrf_blocked' });
  });

  it('accepts a private name once allow-listed by name or by CIDR', async () => {
    const byName = createGuardedLookup(new SsrfPolicy(['internal.test']), fixedResolver(table));
    await expect(lookup(byName, 'internal.test')).resolves.toEqual([
      { address: '127.0.0.1', family: 4 },
    ]);
    const byCidr = createGuardedLookup(new SsrfPolicy(['127.0.0.0/8']), fixedResolver(table));
    await expect(lookup(byCidr, 'internal.test')).resolves.toHaveLength(1);
  });

  it('passes DNS failures through', async () => {
    const fn = createGuardedLookup(new SsrfPolicy(), fixedResolver(table));
    await expect(lookup(fn, 'nowhere.test')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });
});
