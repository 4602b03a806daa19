import { TEST_REDIS_URL, uniqueRedisPrefix } from '@test/support/test-env';
import { Redis } from 'ioredis';
import { RedisThrottlerStorage } from 'src/bootstrap/throttler.storage';

/**
 * Rate-limit leases against the real Redis: two storages on their own connections stand for two
 * api processes sharing one limit, hammered concurrently.
 */
describe('RedisThrottlerStorage leases (two processes, real Redis)', () => {
  const connections: Redis[] = [];
  const storages: RedisThrottlerStorage[] = [];

  /** A "process": its own connection and storage, sharing the prefix with the others. */
  function processStorage(prefix: string): RedisThrottlerStorage {
    const redis = new Redis(TEST_REDIS_URL);
    connections.push(redis);
    const storage = new RedisThrottlerStorage(redis, prefix, { timeoutMs: 5_000 });
    storages.push(storage);
    return storage;
  }

  afterAll(async () => {
    storages.forEach((s) => s.close());
    await Promise.all(connections.map((c) => c.quit()));
  });

  /** `requests` hits on `key`, `concurrency` in flight at a time; how many were admitted. */
  async function hammer(
    storage: RedisThrottlerStorage,
    key: string,
    limit: number,
    requests: number,
    concurrency: number,
  ): Promise<{ admitted: number; blocked: number }> {
    let next = 0;
    let admitted = 0;
    let blocked = 0;
    const worker = async () => {
      while (next < requests) {
        next += 1;
        const rec = await storage.increment(key, 60_000, limit, 60_000, 'default');
        if (rec.isBlocked) blocked += 1;
        else admitted += 1;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { admitted, blocked };
  }

  it.each([
    [1_000, 1_500], // leases of 50
    [230, 400], // leases of 23, the last one partial
    [7, 40], // leases of one hit: counted hit by hit
  ])(
    'admits exactly the limit (%i) across both processes, %i requests each, never more',
    async (limit, perProcess) => {
      const prefix = uniqueRedisPrefix('leases');
      const a = processStorage(prefix);
      const b = processStorage(prefix);
      const [ra, rb] = await Promise.all([
        hammer(a, 'client', limit, perProcess, 16),
        hammer(b, 'client', limit, perProcess, 16),
      ]);
      // Both processes ran out and asked Redis again, so no lease was left unspent: exactly the limit.
      expect(ra.admitted + rb.admitted).toBe(limit);
      expect(ra.admitted).toBeGreaterThan(0);
      expect(rb.admitted).toBeGreaterThan(0);
      expect(ra.blocked + rb.blocked).toBe(2 * perProcess - limit);
      // Every admitted hit was reserved in Redis, and every refused request counted there too.
      const hits = Number(await connections[0].get(`${prefix}:throttle:default:client:hits`));
      expect(hits).toBe(2 * perProcess);
      // And the block is set for every process.
      expect((await a.increment('client', 60_000, limit, 60_000, 'default')).isBlocked).toBe(true);
      expect((await b.increment('client', 60_000, limit, 60_000, 'default')).isBlocked).toBe(true);
    },
  );

  it('never admits more than the limit while a process still holds part of a lease', async () => {
    const prefix = uniqueRedisPrefix('leases');
    const a = processStorage(prefix);
    const b = processStorage(prefix);
    // A takes one request (and reserves a lease of 10 of the 100); B then drains the rest.
    expect((await a.increment('client', 60_000, 100, 0, 'default')).isBlocked).toBe(false);
    const rb = await hammer(b, 'client', 100, 200, 8);
    expect(rb.admitted).toBe(90);
    // A spends the 9 hits it holds, then is refused like B.
    const ra = await hammer(a, 'client', 100, 20, 4);
    expect(ra.admitted).toBe(9);
    expect(1 + ra.admitted + rb.admitted).toBeLessThanOrEqual(100);
  });
});
