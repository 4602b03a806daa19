import type { ExecutionContext } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { everyFewSeconds, REDIS_FAST_TIMEOUT_MS, withDeadline } from '@app/common';
import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';

/** What a throttler storage answers for one hit (@nestjs/throttler's record). */
export interface ThrottlerStorageRecord {
  totalHits: number;
  timeToExpire: number;
  isBlocked: boolean;
  timeToBlockExpire: number;
}

// Reserves a lease of hits in an atomic fixed window with optional block. KEYS: the hit counter
// and the block flag; ARGV: window ms, limit, block ms, hits wanted. Grants min(wanted, what is
// left in the window), none while blocked; a request granted nothing counts one hit, and once the
// count passes the limit the block is set, exactly as counting hit by hit would. The counter is
// the sum of every lease granted, so the hits spent by all processes never exceed the limit.
// Returns the count, the window's ttl, the block's ttl and the hits granted.
const LEASE_SCRIPT = `
local limit = tonumber(ARGV[2])
local blockTtl = redis.call('PTTL', KEYS[2])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local granted = 0
if blockTtl <= 0 then granted = math.max(0, math.min(tonumber(ARGV[4]), limit - current)) end
local hits
if granted > 0 then hits = redis.call('INCRBY', KEYS[1], granted) else hits = redis.call('INCR', KEYS[1]) end
if current == 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if blockTtl <= 0 and hits > limit then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  blockTtl = tonumber(ARGV[3])
end
return {hits, ttl, blockTtl, granted}
`;

/**
 * A storage that can often count a hit with no I/O (in memory, or from a lease it holds):
 * `incrementNow` answers as `increment` would, or `undefined` when only `increment` can.
 */
export interface ImmediateThrottlerStorage extends ThrottlerStorage {
  incrementNow(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): ThrottlerStorageRecord | undefined;
}

const routeKeys = new WeakMap<object, string>();

/**
 * The counter's key: route (controller and handler) and client. The throttler's default hashes
 * the same string with SHA-256 on every request; the plain string is as unique, and the route
 * part is built once per handler.
 */
export function throttlerKey(context: ExecutionContext, tracker: string, name: string): string {
  const handler = context.getHandler();
  let route = routeKeys.get(handler);
  if (route === undefined) {
    route = `${context.getClass().name}.${handler.name}`;
    routeKeys.set(handler, route);
  }
  return `${route}:${name}:${tracker}`;
}

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
export class MemoryThrottlerStorage implements ImmediateThrottlerStorage {
  private readonly windows = new Map<
    string,
    { hits: number; expiresAt: number; blockedUntil: number }
  >();
  // unref: the sweeper never keeps the process alive.
  private readonly sweeper = setInterval(() => this.sweep(), 60_000).unref();

  increment(
    ...hit: Parameters<ImmediateThrottlerStorage['incrementNow']>
  ): Promise<ThrottlerStorageRecord> {
    return Promise.resolve(this.incrementNow(...hit));
  }

  /** Every hit is counted in memory: always answers at once. */
  incrementNow(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): ThrottlerStorageRecord {
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
  /** Most hits one lease reserves (a tenth of the limit, at least 1, at most this). */
  maxLease?: number;
  logger?: Pick<Logger, 'warn' | 'log'>;
}

/** Hits this process reserved in Redis for one key and window, and how many it has spent. */
interface Lease {
  /** The window's count before this lease was granted. */
  base: number;
  granted: number;
  used: number;
  /** When the window ends, by this process's clock (never after Redis ends it). */
  windowEnds: number;
}

/** How often a waiting request tries the next lease before it asks Redis itself. */
const MAX_LEASE_WAITS = 3;

/**
 * Rate-limit counters shared by every api replica (scale mode), spent from leases: a process
 * reserves a block of hits in one atomic Redis call (a tenth of the limit, at most `maxLease`,
 * never more than the window has left) and spends them in memory, so the hot path costs one
 * Redis round trip per block instead of per request. The count in Redis is the sum of the leases
 * granted: the requests admitted by all processes together never exceed the limit (hits a process
 * reserved but did not spend expire with the window, which only makes the limit stricter). Once a
 * window is used up, every request goes to Redis as before, counts, and is blocked; a process
 * still spends what it had reserved (counted within the limit) before it sees another's block.
 * With one process every answer is what counting hit by hit gave; with several, the remaining
 * count a process reports (X-RateLimit-Remaining) is as of its last reservation.
 *
 * Fails open: when Redis does not answer within `timeoutMs`, the request passes uncounted and a
 * warning is logged (at most every few seconds), so a Redis outage never holds up or fails the API.
 */
export class RedisThrottlerStorage implements ImmediateThrottlerStorage {
  private readonly timeoutMs: number;
  private readonly retryAfterMs: number;
  private readonly maxLease: number;
  private readonly logger: Pick<Logger, 'warn' | 'log'>;
  private readonly warn: (msg: string) => void;
  private failing = false;
  /** After a failure, skip Redis until then: a frozen Redis must not cost every request a timeout. */
  private skipUntil = 0;
  private readonly leases = new Map<string, Lease>();
  /** The reservation in flight per key: concurrent requests wait for it rather than ask too. */
  private readonly reserving = new Map<string, Promise<ThrottlerStorageRecord>>();
  // unref: the sweeper never keeps the process alive.
  private readonly sweeper = setInterval(() => this.sweep(), 60_000).unref();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    opts: RedisThrottlerOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? REDIS_FAST_TIMEOUT_MS;
    this.retryAfterMs = opts.retryAfterMs ?? 1_000;
    this.maxLease = opts.maxLease ?? 50;
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
    const base = this.baseOf(key, throttlerName);
    for (let waits = 0; ; waits++) {
      const spent = this.spend(base);
      if (spent) return spent;
      const pending = this.reserving.get(base);
      if (!pending || waits >= MAX_LEASE_WAITS) break;
      await pending;
    }
    if (Date.now() < this.skipUntil) return toRecord(0, ttl, 0);
    const block = blockDuration > 0 ? blockDuration : ttl;
    const reservation = this.reserve(base, ttl, limit, block);
    this.reserving.set(base, reservation);
    try {
      return await reservation;
    } finally {
      if (this.reserving.get(base) === reservation) this.reserving.delete(base);
    }
  }

  /**
   * A hit spent from this process's lease, with no I/O; undefined when there is none left (or a
   * reservation is under way): `increment` then reserves, or waits for the reservation.
   */
  incrementNow(
    key: string,
    _ttl: number,
    _limit: number,
    _blockDuration: number,
    throttlerName: string,
  ): ThrottlerStorageRecord | undefined {
    return this.spend(this.baseOf(key, throttlerName)) ?? undefined;
  }

  /** The Redis key prefix of a counter (`:hits`, `:block`), and its lease's key in memory. */
  private baseOf(key: string, throttlerName: string): string {
    return `${this.prefix}:throttle:${throttlerName}:${key}`;
  }

  /** Stops the sweeper (tests that build many storages). */
  close(): void {
    clearInterval(this.sweeper);
  }

  /** One hit from this process's lease for `base`, or null when it has none left in the window. */
  private spend(base: string): ThrottlerStorageRecord | null {
    const lease = this.leases.get(base);
    if (!lease) return null;
    const now = Date.now();
    if (lease.used >= lease.granted || lease.windowEnds <= now) {
      this.leases.delete(base);
      return null;
    }
    lease.used += 1;
    return toRecord(lease.base + lease.used, lease.windowEnds - now, 0);
  }

  /** Asks Redis for a lease; this request spends its first hit. Never rejects (fails open). */
  private async reserve(
    base: string,
    ttl: number,
    limit: number,
    block: number,
  ): Promise<ThrottlerStorageRecord> {
    const want = Math.max(1, Math.min(Math.floor(limit / 10), this.maxLease));
    // The window ends no later than Redis says: its ttl counts from when Redis ran the script,
    // which is after this moment.
    const sentAt = Date.now();
    try {
      const [hits, pttl, blockTtl, granted] = await withDeadline(
        this.redis.eval(
          LEASE_SCRIPT,
          2,
          `${base}:hits`,
          `${base}:block`,
          ttl,
          limit,
          block,
          want,
        ) as Promise<[number, number, number, number]>,
        this.timeoutMs,
        () => new Error(`no answer within ${this.timeoutMs} ms`),
      );
      if (this.failing) {
        this.failing = false;
        this.logger.log('Redis answers again: rate limits are counted again');
      }
      if (granted <= 0) {
        this.leases.delete(base);
        return toRecord(hits, pttl, blockTtl);
      }
      if (granted > 1 && pttl > 0) {
        this.leases.set(base, {
          base: hits - granted,
          granted,
          used: 1,
          windowEnds: sentAt + pttl,
        });
      } else {
        this.leases.delete(base);
      }
      return toRecord(hits - granted + 1, pttl, blockTtl);
    } catch (err) {
      this.failing = true;
      this.skipUntil = Date.now() + this.retryAfterMs;
      this.warn(
        `Rate limiting is off (failing open): Redis unavailable: ${(err as Error).message}`,
      );
      return toRecord(0, ttl, 0);
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const [base, lease] of this.leases) if (lease.windowEnds <= now) this.leases.delete(base);
  }
}
