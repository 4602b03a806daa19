import type { Redis } from 'ioredis';
import { RedisThrottlerStorage } from './throttler.storage';

/** A Redis stand-in whose `eval` the test scripts: answer, fail, or never answer. */
function fakeRedis() {
  const evalFn = jest.fn<Promise<unknown>, unknown[]>();
  return { redis: { eval: evalFn } as unknown as Redis, evalFn };
}

function logger() {
  return { warn: jest.fn<void, [string]>(), log: jest.fn<void, [string]>() };
}

const TTL = 60_000;

describe('RedisThrottlerStorage', () => {
  afterEach(() => jest.useRealTimers());

  it('counts through Redis while it answers', async () => {
    const { redis, evalFn } = fakeRedis();
    evalFn.mockResolvedValue([3, 59_000, -2, 1]);
    const storage = new RedisThrottlerStorage(redis, 'p', { logger: logger() });
    const rec = await storage.increment('k', TTL, 10, 0, 'default');
    expect(rec).toEqual({ totalHits: 3, timeToExpire: 59, isBlocked: false, timeToBlockExpire: 0 });
    expect(evalFn.mock.calls[0].slice(1, 4)).toEqual([
      2,
      'p:throttle:default:k:hits',
      'p:throttle:default:k:block',
    ]);
    // A limit of 10 leases one hit at a time: every request is counted in Redis.
    expect(evalFn.mock.calls[0].slice(4)).toEqual([TTL, 10, TTL, 1]);
  });

  it('reserves a tenth of the limit (at most maxLease) and spends it without Redis', async () => {
    const { redis, evalFn } = fakeRedis();
    evalFn.mockResolvedValue([40, 60_000, -2, 20]);
    const storage = new RedisThrottlerStorage(redis, 'p', { logger: logger(), maxLease: 20 });
    const totals: number[] = [];
    for (let i = 0; i < 20; i++)
      totals.push((await storage.increment('k', TTL, 1_000, 0, 'default')).totalHits);
    expect(evalFn).toHaveBeenCalledTimes(1);
    expect(evalFn.mock.calls[0].at(-1)).toBe(20);
    // The lease took hits 21..40 of the window: each request reports its own.
    expect(totals).toEqual(Array.from({ length: 20 }, (_, i) => 21 + i));
    await storage.increment('k', TTL, 1_000, 0, 'default');
    expect(evalFn).toHaveBeenCalledTimes(2);
    storage.close();
  });

  it('lets concurrent requests wait for one reservation instead of each asking Redis', async () => {
    const { redis, evalFn } = fakeRedis();
    let answer: (v: unknown) => void = () => undefined;
    evalFn.mockReturnValueOnce(new Promise((r) => (answer = r)));
    const storage = new RedisThrottlerStorage(redis, 'p', { logger: logger() });
    const pending = Array.from({ length: 8 }, () => storage.increment('k', TTL, 100, 0, 'default'));
    answer([10, 60_000, -2, 10]);
    const records = await Promise.all(pending);
    expect(evalFn).toHaveBeenCalledTimes(1);
    expect(records.map((r) => r.totalHits).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(records.every((r) => !r.isBlocked)).toBe(true);
    storage.close();
  });

  it('drops the unspent part of a lease when its window ends', async () => {
    jest.useFakeTimers();
    const { redis, evalFn } = fakeRedis();
    evalFn.mockResolvedValue([10, 1_000, -2, 10]);
    const storage = new RedisThrottlerStorage(redis, 'p', { logger: logger() });
    await storage.increment('k', 1_000, 100, 0, 'default');
    await storage.increment('k', 1_000, 100, 0, 'default');
    expect(evalFn).toHaveBeenCalledTimes(1);
    jest.advanceTimersByTime(1_000);
    await storage.increment('k', 1_000, 100, 0, 'default');
    expect(evalFn).toHaveBeenCalledTimes(2);
    storage.close();
  });

  it('blocks when Redis grants nothing, and asks Redis again on the next request', async () => {
    const { redis, evalFn } = fakeRedis();
    evalFn.mockResolvedValue([101, 30_000, 60_000, 0]);
    const storage = new RedisThrottlerStorage(redis, 'p', { logger: logger() });
    const rec = await storage.increment('k', TTL, 100, 0, 'default');
    expect(rec).toEqual({
      totalHits: 101,
      timeToExpire: 30,
      isBlocked: true,
      timeToBlockExpire: 60,
    });
    await storage.increment('k', TTL, 100, 0, 'default');
    expect(evalFn).toHaveBeenCalledTimes(2);
    storage.close();
  });

  it('fails open with a warning when Redis refuses the command', async () => {
    const { redis, evalFn } = fakeRedis();
    evalFn.mockRejectedValue(
      new Error("Stream isn't writeable and enableOfflineQueue options is false"),
    );
    const log = logger();
    const storage = new RedisThrottlerStorage(redis, 'p', { logger: log });
    const rec = await storage.increment('k', TTL, 1, 0, 'default');
    expect(rec).toEqual({ totalHits: 0, timeToExpire: 60, isBlocked: false, timeToBlockExpire: 0 });
    expect(log.warn).toHaveBeenCalledTimes(1);
    expect(log.warn.mock.calls[0][0]).toMatch(/failing open.*enableOfflineQueue/);
  });

  it('fails open after timeoutMs when Redis never answers (a frozen server)', async () => {
    jest.useFakeTimers();
    const { redis, evalFn } = fakeRedis();
    evalFn.mockReturnValue(new Promise(() => undefined));
    const log = logger();
    const storage = new RedisThrottlerStorage(redis, 'p', { timeoutMs: 300, logger: log });
    let settled = false;
    const pending = storage.increment('k', TTL, 1, 0, 'default').finally(() => (settled = true));
    await jest.advanceTimersByTimeAsync(299);
    expect(settled).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect((await pending).isBlocked).toBe(false);
    expect(log.warn.mock.calls[0][0]).toMatch(/no answer within 300 ms/);
  });

  it('skips Redis for retryAfterMs after a failure, then tries again and logs the recovery', async () => {
    jest.useFakeTimers();
    const { redis, evalFn } = fakeRedis();
    evalFn.mockRejectedValueOnce(new Error('down'));
    const log = logger();
    const storage = new RedisThrottlerStorage(redis, 'p', { retryAfterMs: 1_000, logger: log });
    await storage.increment('k', TTL, 1, 0, 'default');
    await storage.increment('k', TTL, 1, 0, 'default');
    expect(evalFn).toHaveBeenCalledTimes(1);

    jest.advanceTimersByTime(1_000);
    evalFn.mockResolvedValue([2, 50_000, 40_000, 0]);
    const rec = await storage.increment('k', TTL, 1, 0, 'default');
    expect(evalFn).toHaveBeenCalledTimes(2);
    expect(rec).toEqual({ totalHits: 2, timeToExpire: 50, isBlocked: true, timeToBlockExpire: 40 });
    expect(log.log).toHaveBeenCalledTimes(1);
    expect(log.log.mock.calls[0][0]).toMatch(/counted again/);
  });

  it('warns at most once every few seconds, not once per request', async () => {
    jest.useFakeTimers();
    const { redis, evalFn } = fakeRedis();
    evalFn.mockRejectedValue(new Error('down'));
    const log = logger();
    const storage = new RedisThrottlerStorage(redis, 'p', {
      retryAfterMs: 0,
      warnEveryMs: 5_000,
      logger: log,
    });
    for (let i = 0; i < 50; i++) {
      await storage.increment('k', TTL, 1, 0, 'default');
      jest.advanceTimersByTime(100); // 50 requests over 5 s
    }
    expect(evalFn).toHaveBeenCalledTimes(50);
    expect(log.warn).toHaveBeenCalledTimes(1);
    await storage.increment('k', TTL, 1, 0, 'default');
    expect(log.warn).toHaveBeenCalledTimes(2);
  });
});
