import {
  cappedBackoff,
  closeRedis,
  everyFewSeconds,
  logRedisErrors,
  publishSoon,
  REDIS,
  REDIS_FAST,
  withDeadline,
} from '@app/common';
import type { RedisClient } from '@app/common';
import { AppConfig } from '@app/config';
import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';

/** The pub/sub channel of account changes under a Redis prefix (the promote CLI publishes too). */
export const accountChangesChannel = (prefix: string): string => `${prefix}:account-changes`;

/** How often the subscriber connection proves it still answers (a frozen Redis closes nothing). */
const HEARTBEAT_MS = 1_000;

/** Embedded: this process is the database's only client; a bound should a write bypass us. */
const LOCAL_CACHE_MS = 60_000;
/** Scale mode: the bound should a change's broadcast be lost. */
const SHARED_CACHE_MS = 5_000;

/** `null`: every account (the subscription was lost, or came back). */
type ChangeListener = (accountId: string | null) => void;

/**
 * Which cached account state (profiles, live sessions with their role) a process may keep, and
 * when to drop it. Every write to an account calls `changed()`, which drops the entry here and,
 * in the scale mode, publishes the id on Redis pub/sub so every other process drops it too.
 *
 * - Embedded (PGlite): this process is the database's only client, so caching is always safe.
 * - PostgreSQL with Redis: caching is allowed only while this process's subscriber connection is
 *   subscribed and answers its heartbeat; when it drops or stalls, everything cached is cleared
 *   and nothing is cached until it is subscribed again. A write whose publish fails (Redis down)
 *   is bounded by the caches' short TTLs.
 * - PostgreSQL without Redis: no process could tell the others, so nothing is cached.
 *
 * `generation` changes with every change seen: a cache fills an entry only when it did not change
 * while the database was read, so a read racing a write never caches what the write replaced.
 */
@Injectable()
export class AccountChanges implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('AccountChanges');
  private readonly warn = everyFewSeconds((m) => this.logger.warn(m));
  private readonly listeners: ChangeListener[] = [];
  private readonly channel: string;
  private subscriber: Redis | null = null;
  private heartbeat?: NodeJS.Timeout;
  private heartbeatInFlight = false;
  private live: boolean;
  /** The subscriber's SUBSCRIBE was confirmed on its current connection. */
  private subscribed = false;
  private closing = false;
  private epoch = 0;

  constructor(
    private readonly config: AppConfig,
    @Inject(REDIS) private readonly redis: RedisClient,
    @Inject(REDIS_FAST) private readonly fast: RedisClient,
  ) {
    this.channel = accountChangesChannel(config.env.REDIS_PREFIX);
    this.live = config.usesPglite;
  }

  /** Counts changes; compare before and after a read to know whether it may be cached. */
  get generation(): number {
    return this.epoch;
  }

  /**
   * How long a cached account state may be kept: the bound on staleness should a change bypass
   * `changed()` (embedded) or its broadcast be lost (Redis stalled between the write and the
   * publish, before this process's heartbeat noticed).
   */
  get cacheTtlMs(): number {
    return this.config.usesPglite ? LOCAL_CACHE_MS : SHARED_CACHE_MS;
  }

  /** Whether what was read at `generation` may be cached now. */
  mayCache(generation: number): boolean {
    return this.live && generation === this.epoch;
  }

  /** Calls `listener` with every changed account id, or null when everything must be dropped. */
  onChange(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  /**
   * An account was written (profile, password, role, sign-in): drops it here, then tells the
   * other processes. Never fails the write: when Redis does not take the message in time it is
   * sent once Redis is back, and the other processes' TTLs bound what they show until then.
   */
  async changed(accountId: string): Promise<void> {
    this.notify(accountId);
    if (!this.fast || !this.redis) return;
    if (this.subscriber && !this.live) {
      // Redis is known to be away (the heartbeat failed): no write waits for it; queued instead.
      this.redis.publish(this.channel, accountId).catch(() => undefined);
      return;
    }
    await publishSoon(this.fast, this.redis, this.channel, accountId, (err) =>
      this.warn(`Account change not broadcast yet: ${err.message}`),
    );
  }

  async onModuleInit(): Promise<void> {
    // A worker-only process serves no requests: it caches nothing and needs no subscriber.
    if (!this.redis || !this.config.hasRole('api')) return;
    const sub = this.redis.duplicate({
      lazyConnect: true,
      // Subscribed by hand on every (re)connection: caching resumes only once that is confirmed.
      autoResubscribe: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: cappedBackoff,
    });
    this.subscriber = sub;
    logRedisErrors(sub, 'account changes');
    sub.on('message', (channel: string, accountId: string) => {
      if (channel === this.channel) this.notify(accountId);
    });
    sub.on('ready', () => void this.subscribe(sub));
    sub.on('close', () => {
      this.subscribed = false;
      this.suspend();
    });
    this.heartbeat = setInterval(() => void this.beat(sub), HEARTBEAT_MS).unref();
    // Boot does not wait on it: until it is subscribed, nothing is cached.
    sub.connect().catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    clearInterval(this.heartbeat);
    this.suspend();
    await closeRedis(this.subscriber);
  }

  private async subscribe(sub: Redis): Promise<void> {
    try {
      await sub.subscribe(this.channel);
      this.subscribed = true;
      this.resume();
    } catch (err) {
      this.warn(`Account changes: subscribe failed: ${(err as Error).message}`);
    }
  }

  /** The subscriber must answer a PING in time, or caching stops until it does again. */
  private async beat(sub: Redis): Promise<void> {
    if (this.heartbeatInFlight || sub.status !== 'ready') return;
    this.heartbeatInFlight = true;
    try {
      await withDeadline(
        sub.ping(),
        HEARTBEAT_MS,
        () => new Error(`no answer within ${HEARTBEAT_MS} ms`),
      );
      // Still subscribed (the connection never closed): caching may resume.
      if (!this.live && this.subscribed) this.resume();
    } catch {
      this.suspend();
    } finally {
      this.heartbeatInFlight = false;
    }
  }

  private resume(): void {
    if (this.closing || this.live) return;
    this.epoch += 1;
    this.live = true;
  }

  private suspend(): void {
    const wasLive = this.live;
    this.live = false;
    this.epoch += 1;
    if (wasLive) this.listeners.forEach((l) => l(null));
  }

  private notify(accountId: string): void {
    this.epoch += 1;
    for (const l of this.listeners) l(accountId);
  }
}
