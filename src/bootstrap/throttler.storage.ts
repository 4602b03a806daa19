import type { ThrottlerStorage } from '@nestjs/throttler';
import { everyFewSeconds, REDIS_FAST_TIMEOUT_MS, withDeadline } from '@app/common';
import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';

interface ThrottlerStorageRecord {
  totalHits: number;
  timeToExpire: number;
  isBlocked: boolean;
  timeToBlockExpire: number;
}

// Atomic fixed window with optional block: INCR the hit key, set its TTL on first hit, and once
// over the limit set a block key for blockDuration. Returns hits, ttl, blocked flag and block ttl.
const SCRIPT = `
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
local blockTtl = redis.call('PTTL', KEYS[2])
if blockTtl <= 0 and hits > tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  blockTtl = tonumber(ARGV[3])
end
return {hits, ttl, blockTtl}
`;

/** Hits, and the milliseconds left in the window and in the block (<= 0: none), as Nest wants them. */
function toRecord(hits: number, windowLeftMs: number, blockLeftMs: number): ThrottlerStorageRecord {
  const isBlocked = blockLeftMs > 0;
  return {
    totalHits: hits,
    timeToExpire: Math.max(0, Math.ceil(windowLeftMs / 1000)),
    isBlocked,
    timeToBlockExpire: isBlocked ? Math.ceil(blockLeftMs / 1000) : 0,
  };
}

/**
 * Fixed-window counters in memory (embedded mode): O(1) per request. The throttler's default
 * storage keeps one timestamp per hit and prunes them linearly on every request, which made it
 * the hottest function of GET /ping under load.
 */
export class MemoryThrottlerStorage implements ThrottlerStorage {
  private readonly windows = new Map<
    string,
    { hits: number; expiresAt: number; blockedUntil: number }
  >();
  // unref: the sweeper never keeps the process alive.
  private readonly sweeper = setInterval(() => this.sweep(), 60_000).unref();

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    const now = Date.now();
    const id = `${throttlerName}:${key}`;
    let w = this.windows.get(id);
    if (!w || (w.expiresAt <= now && w.blockedUntil <= now)) {
      w = { hits: 0, expiresAt: now + ttl, blockedUntil: 0 };
      this.windows.set(id, w);
    } else if (w.expiresAt <= now) {
      w.hits = 0;
      w.expiresAt = now + ttl;
    }
    w.hits += 1;
    if (w.blockedUntil <= now && w.hits > limit)
      w.blockedUntil = now + (blockDuration > 0 ? blockDuration : ttl);
    return toRecord(w.hits, w.expiresAt - now, w.blockedUntil - now);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, w] of this.windows)
      if (w.expiresAt <= now && w.blockedUntil <= now) this.windows.delete(id);
  }
}

export interface RedisThrottlerOptions {
  /** Longest wait for Redis before the request passes uncounted. */
  timeoutMs?: number;
  /** After a failure, requests pass uncounted this long before Redis is tried again. */
  retryAfterMs?: number;
  /** Shortest interval between two "failing open" warnings. */
  warnEveryMs?: number;
  logger?: Pick<Logger, 'warn' | 'log'>;
}

/**
 * Rate-limit counters shared by every api replica (scale mode). Fails open: when Redis does not
 * answer within `timeoutMs`, the request passes uncounted and a warning is logged (at most every
 * few seconds), so a Redis outage never holds up or fails the API.
 */
export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly timeoutMs: number;
  private readonly retryAfterMs: number;
  private readonly logger: Pick<Logger, 'warn' | 'log'>;
  private readonly warn: (msg: string) => void;
  private failing = false;
  /** After a failure, skip Redis until then: a frozen Redis must not cost every request a timeout. */
  private skipUntil = 0;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    opts: RedisThrottlerOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? REDIS_FAST_TIMEOUT_MS;
    this.retryAfterMs = opts.retryAfterMs ?? 1_000;
    this.logger = opts.logger ?? new Logger('Throttler');
    this.warn = everyFewSeconds((m) => this.logger.warn(m), opts.warnEveryMs);
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    const base = `${this.prefix}:throttle:${throttlerName}:${key}`;
    const block = blockDuration > 0 ? blockDuration : ttl;
    if (Date.now() < this.skipUntil) return toRecord(0, ttl, 0);
    try {
      const [hits, pttl, blockTtl] = await withDeadline(
        this.redis.eval(SCRIPT, 2, `${base}:hits`, `${base}:block`, ttl, limit, block) as Promise<
          [number, number, number]
        >,
        this.timeoutMs,
        () => new Error(`no answer within ${this.timeoutMs} ms`),
      );
      if (this.failing) {
        this.failing = false;
        this.logger.log('Redis answers again: rate limits are counted again');
      }
      return toRecord(hits, pttl, blockTtl);
    } catch (err) {
      this.failing = true;
      this.skipUntil = Date.now() + this.retryAfterMs;
      this.warn(
        `Rate limiting is off (failing open): Redis unavailable: ${(err as Error).message}`,
      );
      return toRecord(0, ttl, 0);
    }
  }
}
